# expect: none
import json
def load_code(blob):
    return json.loads(blob.decode("utf-8"))
