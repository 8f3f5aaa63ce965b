# expect: CWE-502
import pickle
def load_session(blob):
    return pickle.loads(blob)
