# expect: none
import operator
OPS = {"+": operator.add, "-": operator.sub}
def apply_formula(row, a, op, b):
    return OPS[op](row[a], row[b])
