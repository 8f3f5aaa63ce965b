# expect: none
import ast
def calc(request):
    expr = request.args.get("expr")
    return str(ast.literal_eval(expr))
