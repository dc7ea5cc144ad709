"""A real HTTP server on 127.0.0.1 that records the callbacks it receives."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None  # the status answered, None when the request was held unanswered

    @property
    def key(self) -> str:
        return self.headers.get("idempotency-key", "")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A sender killed mid-request is part of the tests, not an error of the receiver.
        pass


class Receiver:
    """Start with `start()` (optionally on a given port), stop with `stop()`.

    `status` is the HTTP status answered (with a `Location` header when `location` is set);
    `delay` seconds are waited before answering; while `hold` is set, requests wait (unanswered)
    until it is cleared or the receiver stops.
    """

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.location: str | None = None
        self.requests: list[Received] = []
        self.arrived = threading.Condition()
        self.released = threading.Event()
        self.released.set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- control -------------------------------------------------------------------------

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                held = not receiver.released.is_set()
                status = receiver.status
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver._record(
                    Received(self.command, self.path, headers, body, None if held else status)
                )
                if held:
                    receiver.released.wait(60)
                    self.close_connection = True
                    return  # never answered
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_PUT  # noqa: N815
            do_GET = do_PUT  # noqa: N815 - the checks of tasks waiting for their data

            def log_message(self, *args: Any) -> None:
                pass

        server = _Server(("127.0.0.1", port), Handler)
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Receiver:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what arrived --------------------------------------------------------------------

    def _record(self, request: Received) -> None:
        with self.arrived:
            self.requests.append(request)
            self.arrived.notify_all()

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: predicate(self.requests), timeout)

    def delivered(self) -> collections.Counter[str]:
        """Idempotency-Key -> how many requests with it were answered with a 2xx."""
        with self.arrived:
            return collections.Counter(
                request.key
                for request in self.requests
                if request.answered is not None and 200 <= request.answered < 300
            )

    def duplicates(self) -> int:
        """Successful deliveries beyond the first for the same Idempotency-Key."""
        return sum(count - 1 for count in self.delivered().values())

    def double_sends(self) -> int:
        """Requests repeating an earlier one's key *and* attempt number: the same claim sent
        twice, i.e. two processes sending a row because both picked it. Always 0."""
        with self.arrived:
            pairs = collections.Counter(
                (request.key, request.headers.get("x-taskmanager-attempt"))
                for request in self.requests
            )
        return sum(count - 1 for count in pairs.values())


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll `condition` until true or `timeout` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
