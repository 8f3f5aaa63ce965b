# expect: none
from Crypto.Cipher import AES
def seal(key, block):
    return AES.new(key, AES.MODE_GCM).encrypt_and_digest(block)
