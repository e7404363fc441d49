"""A fast stand-in for Pinterest's events endpoint: answers every event "processed".

Run as its own process so it does not take CPU from the target being measured; prints
its port on the first line of stdout.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

_CACHE: dict[int, bytes] = {}


def answer(count: int) -> bytes:
    if count not in _CACHE:
        _CACHE[count] = orjson.dumps(
            {
                "num_events_received": count,
                "num_events_processed": count,
                "events": [{"status": "processed", "error_message": "", "warning_message": ""}]
                * count,
            },
        )
    return _CACHE[count]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        data = answer(len(orjson.loads(body)["data"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
