# expect: CWE-94
def apply_formula(row, formula):
    code = compile(formula, "<formula>", "eval")
    return eval(code, {}, row)
