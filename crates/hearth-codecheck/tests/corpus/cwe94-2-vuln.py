# expect: CWE-94
def run_plugin(source_code):
    exec(source_code, {"__builtins__": {}})
