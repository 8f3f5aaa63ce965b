# expect: CWE-78
import subprocess
def thumbnail(request):
    src = request.form["image"]
    subprocess.Popen("convert %s -resize 64x64 thumb.png" % src, shell=True).wait()
