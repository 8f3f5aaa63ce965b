# expect: none
import requests
def status(url):
    return requests.get(url, timeout=10).status_code
