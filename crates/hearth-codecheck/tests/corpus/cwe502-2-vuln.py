# expect: CWE-502
import yaml
def read_config(path):
    with open(path) as f:
        return yaml.load(f)
