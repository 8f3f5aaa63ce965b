# expect: none
PLUGINS = {"upper": str.upper, "lower": str.lower}
def run_plugin(name, text):
    return PLUGINS[name](text)
