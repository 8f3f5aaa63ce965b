# expect: none
import os
from flask import request
from werkzeug.utils import secure_filename
def download():
    name = secure_filename(request.args["file"])
    with open(os.path.join("/srv/files", name), "rb") as f:
        return f.read()
