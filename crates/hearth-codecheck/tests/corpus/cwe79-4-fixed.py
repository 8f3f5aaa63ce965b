# expect: none
from flask import request
from markupsafe import escape
def hello():
    name = escape(request.args.get("name", ""))
    return f"<h1>Hello {name}</h1>"
