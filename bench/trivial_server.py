"""The local API's baseline: the standard library's threading HTTP server answering every GET
with a fixed JSON body, over the same HTTP/1.1 handling as ``pie-local serve``.

    python -m bench.trivial_server BODY_BYTES    # prints "listening on http://127.0.0.1:PORT"
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Fixed(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's signature
        pass


def main(body_bytes: int) -> None:
    _Fixed.body = b'{"model":"' + b"x" * max(0, body_bytes - 12) + b'"}'
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fixed)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
