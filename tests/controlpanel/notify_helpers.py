"""Test helpers for notifications: a real webhook receiver on loopback, and eager Celery."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from controlpanel import celery_app


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers scripted statuses.

    ``statuses`` is consumed one per request; when empty, every answer is ``then``.
    """

    server: ThreadingHTTPServer
    statuses: list[int] = field(default_factory=list)
    then: int = 200
    requests: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/panel?team=x"


def _handler(receiver_box: list[WebhookReceiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = receiver_box[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            status = receiver.statuses.pop(0) if receiver.statuses else receiver.then
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest shows what matters."""

    return Handler


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A real webhook receiver on a free loopback port, stopped after the test."""
    box: list[WebhookReceiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(box))
    box.append(WebhookReceiver(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box[0]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def eager_celery(settings: Any) -> Iterator[None]:
    """Tasks run in this process as they are queued, retries at once (no countdown wait)."""
    conf = celery_app.conf
    saved = conf.task_always_eager
    conf.task_always_eager = True
    settings.NOTIFY_RETRY_BASE_SECONDS = 0
    yield
    conf.task_always_eager = saved
