# expect: none
import requests
from urllib.parse import urlparse
from flask import request
ALLOWED_HOSTS = {"images.example.com"}
def preview():
    url = request.args.get("url")
    if urlparse(url).hostname not in ALLOWED_HOSTS:
        return "forbidden", 403
    return requests.get(url, timeout=5).text
