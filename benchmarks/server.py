"""A fast stand-in for Pinterest's events endpoint: answers every event "processed".

Run as its own process, and kept light: on a 2-core machine every millisecond it
spends is taken from the target being measured, while Pinterest's work happens on
Pinterest's machines. It counts the events of a body without building them (msgspec
checks the JSON and skips each event's inside; decoding a 1 MB body whole costs
about 20 ms). The tests' fake Pinterest (tests/fake_pinterest.py) is the one that
checks bodies against Pinterest's schema. Prints its port on the first line of stdout.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec
import orjson

_CACHE: dict[int, bytes] = {}


class Body(msgspec.Struct):
    """A request body: its events are counted, not decoded."""

    data: list[msgspec.Raw]


_decode_body = msgspec.json.Decoder(Body).decode


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
    # Headers and body go in two writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK of the headers, about 32 ms a request.
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        data = answer(len(_decode_body(body).data))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
