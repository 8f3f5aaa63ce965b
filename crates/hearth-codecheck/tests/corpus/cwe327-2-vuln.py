# expect: CWE-327
from Crypto.Cipher import AES
def seal(key, block):
    return AES.new(key, AES.MODE_ECB).encrypt(block)
