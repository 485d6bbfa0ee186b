"""Test helpers for notifications: a real webhook receiver on loopback, tasks run in-process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from controlpanel.services import notifications
from controlpanel.tasks import send_notification

LOOPBACK = "127.0.0.1/32"


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
def receiver(settings: Any) -> Iterator[WebhookReceiver]:
    """A real webhook receiver on a free loopback port, stopped after the test.

    Loopback is allowed as a webhook destination for the test (NOTIFY_WEBHOOK_ALLOWED_NETWORKS).
    """
    settings.NOTIFY_WEBHOOK_ALLOWED_NETWORKS = [LOOPBACK]
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
def send_in_process(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Queued notifications are sent in this process at once, every retry without waiting.

    What the task does (``send_delivery`` until it says done) without Celery's own eager
    mode, which would cache a result backend on the default Redis for the rest of the
    session. test_notifications_worker.py sends through a real worker.
    """
    settings.NOTIFY_RETRY_BASE_SECONDS = 0

    def send_here(delivery_id: int) -> None:
        while notifications.send_delivery(delivery_id) is not None:
            pass

    monkeypatch.setattr(send_notification, "delay", send_here)
