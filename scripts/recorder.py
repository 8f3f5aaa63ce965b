"""A recording reverse proxy: the stand-in cloud's front door in scripts/hybrid-test.

    python3 scripts/recorder.py PORT UPSTREAM_HOST:PORT RECORD.jsonl

Every request it receives is appended to RECORD.jsonl (method, path, headers, the exact body
bytes as latin-1 text) before it is forwarded; the answer streams back chunk by chunk, so
server-sent events arrive as the upstream sends them. `GET /health` answers here.
"""
import http.client
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, UPSTREAM, RECORD = int(sys.argv[1]), sys.argv[2], sys.argv[3]
LOCK = threading.Lock()
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/health":
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            return
        self.forward(b"")

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n)
        with LOCK, open(RECORD, "a", encoding="utf-8") as f:
            f.write(json.dumps({
                "method": self.command, "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body.decode("latin-1"),
            }) + "\n")
        self.forward(body)

    def forward(self, body):
        host, port = UPSTREAM.rsplit(":", 1)
        try:
            c = http.client.HTTPConnection(host, int(port), timeout=300)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            c.request(self.command, self.path, body=body or None, headers=headers)
            r = c.getresponse()
        except OSError as e:
            msg = json.dumps({"error": {"message": f"stand-in unreachable: {e}"}}).encode()
            self.send_response(502)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        while True:
            chunk = r.read1(65536)
            if not chunk:
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        c.close()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that drops its connection after the answer (hearth stops reading at
        # `data: [DONE]`) is not an error of the recording.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


Server(("127.0.0.1", PORT), Handler).serve_forever()
