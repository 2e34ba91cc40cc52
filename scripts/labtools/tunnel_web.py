"""A small HTTP service for tunnels to reach: GET /bytes/N answers N random
bytes, GET /bytes/N/R the same at R bytes a second (a slow source, where a
client's own rate limit would only fill the buffers in between), POST (any
path) reads the body and answers its length.

tunnel_web.py ADDRESS PORT

Used by record-corpus.sh behind an ICMP tunnel, in its lab namespaces only.
"""
import http.server
import os
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        try:
            n = min(int(parts[1]), 10_000_000)
            rate = int(parts[2]) if len(parts) > 2 else 0
        except (IndexError, ValueError):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.end_headers()
        step = min(1024, max(rate // 10, 1)) if rate else 65536
        start, sent = time.monotonic(), 0
        while sent < n:
            chunk = os.urandom(min(n - sent, step))
            self.wfile.write(chunk)
            self.wfile.flush()
            sent += len(chunk)
            if rate:
                delay = start + sent / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        got = 0
        while got < n:
            b = self.rfile.read(min(n - got, 65536))
            if not b:
                break
            got += len(b)
        body = ("%d\n" % got).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    http.server.ThreadingHTTPServer((argv[0], int(argv[1])), Handler).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
