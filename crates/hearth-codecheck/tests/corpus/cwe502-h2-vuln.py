# expect: CWE-502
import marshal
def load_code(blob):
    return marshal.loads(blob)
