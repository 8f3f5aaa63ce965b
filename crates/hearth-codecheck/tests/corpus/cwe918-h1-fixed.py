# expect: none
from urllib.request import urlopen
from urllib.parse import urlparse
ALLOWED = {"feeds.example.com"}
def fetch_feed(request):
    feed_url = request.GET["feed"]
    if urlparse(feed_url).hostname not in ALLOWED:
        raise PermissionError(feed_url)
    return urlopen(feed_url).read()
