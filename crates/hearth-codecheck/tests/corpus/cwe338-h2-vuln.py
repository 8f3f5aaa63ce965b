# expect: CWE-338
import random
def new_api_key():
    return "%032x" % random.getrandbits(128)
