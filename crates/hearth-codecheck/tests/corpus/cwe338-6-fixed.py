# expect: none
import secrets
def make_password(n=12):
    chars = "abcdefghijkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(chars) for _ in range(n))
