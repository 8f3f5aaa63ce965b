# expect: CWE-502
import pickle, base64
def restore(cookie):
    return pickle.loads(base64.b64decode(cookie))
