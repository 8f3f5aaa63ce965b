# expect: none
from Crypto.Cipher import AES
def encrypt(key, data):
    return AES.new(key, AES.MODE_GCM).encrypt_and_digest(data)
