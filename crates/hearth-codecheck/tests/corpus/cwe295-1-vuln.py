# expect: CWE-295
import requests
def status(url):
    return requests.get(url, verify=False).status_code
