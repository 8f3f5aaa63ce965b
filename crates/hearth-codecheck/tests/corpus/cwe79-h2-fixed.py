# expect: none
from flask import request, render_template_string
def greet():
    return render_template_string("<p>Hi {{ n }}</p>", n=request.args["n"])
