"""A stand-in server that records the body of every POST (one file per request, named by
order and path) and answers 400, so an agent's first real request can be captured without a
model. Usage: capture_requests.py PORT DIR"""
import http.server
import os
import sys

port, out = int(sys.argv[1]), sys.argv[2]
os.makedirs(out, exist_ok=True)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        name = self.path.split("?")[0].strip("/").replace("/", "_")
        with open(os.path.join(out, f"{len(os.listdir(out)):02d}-{name}.json"), "wb") as f:
            f.write(body)
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"type":"error","error":{"type":"invalid_request_error","message":"captured"}}')

    def do_GET(self):
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
