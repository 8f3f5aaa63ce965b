# expect: CWE-338
import random
def make_password(n=12):
    chars = "abcdefghijkmnpqrstuvwxyz23456789"
    return "".join(random.choices(chars, k=n))
