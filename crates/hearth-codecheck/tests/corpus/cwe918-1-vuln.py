# expect: CWE-918
import requests
from flask import request
def preview():
    url = request.args.get("url")
    return requests.get(url, timeout=5).text
