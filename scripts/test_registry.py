"""A minimal Ollama-style registry over a hearth/Ollama store directory, for pull tests.

GET /v2/<ns>/<model>/manifests/<tag> answers the stored manifest, GET /v2/<ns>/<model>/blobs/<digest>
the blob (with Range support). Usage: test_registry.py STORE_DIR PORT
"""
import http.server
import os
import re
import sys

store, port = sys.argv[1], int(sys.argv[2])


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        m = re.fullmatch(r"/v2/([^/]+)/([^/]+)/manifests/([^/]+)", self.path)
        if m:
            ns, model, tag = m.groups()
            for host in os.listdir(os.path.join(store, "manifests")):
                p = os.path.join(store, "manifests", host, ns, model, tag)
                if os.path.isfile(p):
                    return self.send_file(p, "application/vnd.docker.distribution.manifest.v2+json")
            return self.send_error(404)
        m = re.fullmatch(r"/v2/[^/]+/[^/]+/blobs/sha256:([0-9a-f]{64})", self.path)
        if m:
            p = os.path.join(store, "blobs", "sha256-" + m.group(1))
            if os.path.isfile(p):
                return self.send_file(p, "application/octet-stream")
        self.send_error(404)

    def send_file(self, path, ctype):
        size = os.path.getsize(path)
        start, end = 0, size - 1
        rng = self.headers.get("Range")
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "")
        if m:
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else size - 1
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
