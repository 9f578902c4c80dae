"""A tiny HTTP(S) server for tests that need a vendor to misbehave, or need
to see exactly what the portal sends. Each test sets `respond` and reads
`requests` afterwards."""

import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict
    body: bytes


class HttpDouble:
    """Listens on `address` (any of 127.0.0.0/8) and `port` (0: any free
    one). With `tls` (a trustme leaf certificate) it speaks HTTPS, and `url`
    names `host`: tests map that name to the address with tests/support/fake_dns.py."""

    def __init__(self, *, address="127.0.0.1", port=0, tls=None, host=None):
        self.requests: list[RecordedRequest] = []
        self.respond = lambda request: (200, {"Content-Type": "application/json"}, b"{}")
        double = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = RecordedRequest(self.command, self.path, dict(self.headers), self.rfile.read(length))
                double.requests.append(request)
                status, headers, body = double.respond(request)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((address, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.configure_cert(context)
            # The handshake happens in the handler's thread, so a client that
            # refuses the certificate does not hold up the server.
            self.server.socket = context.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.url = f"{'https' if tls else 'http'}://{host or address}:{self.port}"
        # A short poll: shutdown() waits for the loop's next turn (0.5 s by default, in every test).
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def slow(seconds, then):
    """A responder that waits before answering: for timeout tests."""

    def respond(request):
        time.sleep(seconds)
        return then(request)

    return respond


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
