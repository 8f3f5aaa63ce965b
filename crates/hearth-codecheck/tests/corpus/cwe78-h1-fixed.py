# expect: none
import subprocess
def thumbnail(request):
    src = request.form["image"]
    subprocess.Popen(["convert", src, "-resize", "64x64", "thumb.png"]).wait()
