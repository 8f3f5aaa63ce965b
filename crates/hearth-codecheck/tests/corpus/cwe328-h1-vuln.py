# expect: CWE-328
import hashlib
def cache_key(user_password):
    return hashlib.sha1(user_password.encode()).hexdigest()
