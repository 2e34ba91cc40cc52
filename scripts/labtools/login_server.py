"""A tiny web login endpoint for hydra http-post-form and slow POST tests.

login_server.py PORT

Listens on all addresses of its namespace (IPv6 and IPv4), one thread per
connection. GET / and GET /login return a login form; POST /login reads the
form and answers 200 "Login failed" after a second, as a login that
checks a password hash does; anything else is 404. Used by record-corpus.sh
on the lab victim only.
"""
import http.server
import socket
import sys
import time

FORM = b"""<!doctype html><title>Login</title>
<form method="post" action="/login"><input name="user"><input name="pass" type="password">
<button>Log in</button></form>
"""


class Handler(http.server.BaseHTTPRequestHandler):
    timeout = 150  # a slow POST holds its connection at most this long
    server_version = "login/1.0"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path in ("/", "/login"):
            self.reply(200, FORM)
        else:
            self.reply(404, b"not found\n")

    def do_POST(self):
        n = min(int(self.headers.get("Content-Length") or 0), 1 << 16)
        self.rfile.read(n)
        if self.path.split("?")[0] != "/login":
            self.reply(404, b"not found\n")
            return
        time.sleep(1.0)
        self.reply(200, b"<p>Login failed</p>\n")


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 256

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


if __name__ == "__main__":
    Server(("::", int(sys.argv[1])), Handler).serve_forever()
