# expect: CWE-79
from flask import request, render_template_string
def greet():
    return render_template_string("<p>Hi " + request.args["n"] + "</p>")
