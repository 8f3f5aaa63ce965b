# expect: CWE-798
import jwt
JWT_SECRET = "my-super-secret-signing-key"
def sign(payload):
    return jwt.encode(payload, JWT_SECRET, algorithm="HS256")
