# expect: CWE-22
import os
from flask import request
def download():
    name = request.args["file"]
    with open(os.path.join("/srv/files", name), "rb") as f:
        return f.read()
