# expect: none
import hashlib
def cache_key(user_password):
    return hashlib.sha256(user_password.encode()).hexdigest()
