# expect: none
import os, jwt
JWT_SECRET = os.environ["JWT_SECRET"]
def sign(payload):
    return jwt.encode(payload, JWT_SECRET, algorithm="HS256")
