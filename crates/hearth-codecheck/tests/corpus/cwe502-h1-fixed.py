# expect: none
import json, base64
def restore(cookie):
    return json.loads(base64.b64decode(cookie))
