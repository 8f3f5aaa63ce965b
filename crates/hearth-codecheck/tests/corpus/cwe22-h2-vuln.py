# expect: CWE-22
from flask import request
def delete_upload():
    import os
    os.remove("/srv/uploads/" + request.form["name"])
