# expect: CWE-78
import subprocess
def archive(name):
    return subprocess.check_output(f"tar czf /tmp/{name}.tgz data", shell=True)
