# expect: CWE-94
def calc(request):
    expr = request.args.get("expr")
    return str(eval(expr))
