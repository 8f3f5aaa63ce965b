# expect: none
from flask import request
def delete_upload():
    import os
    name = os.path.basename(request.form["name"])
    os.remove(os.path.join("/srv/uploads", name))
