# expect: CWE-918
from urllib.request import urlopen
def fetch_feed(request):
    feed_url = request.GET["feed"]
    return urlopen(feed_url).read()
