"""/healthz tells a load balancer whether the panel can serve, without logging in."""

import socket
import time
from collections.abc import Iterator

import pytest
from django.db import OperationalError
from django.test import Client
from pytest_django import Settings

from controlpanel.views import core as views

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_port() -> int:
    """A local TCP port that nothing listens on, so connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local TCP port that accepts connections but never answers, like a hung Redis."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_healthz_needs_no_login_and_reports_database_ok(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] in {"ok", "unavailable"}


def test_healthz_reports_redis_ok_when_it_answers(
    client: Client, settings: Settings, reachable_redis_url: str
) -> None:
    settings.CELERY_BROKER_URL = reachable_redis_url
    assert client.get("/healthz").json()["redis"] == "ok"


def test_healthz_stays_200_when_redis_is_down(
    client: Client, settings: Settings, closed_port: int
) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port}/15"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "unavailable"}


def test_healthz_gives_up_quickly_on_a_hung_redis(
    client: Client, settings: Settings, silent_port: int
) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent_port}/15"
    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["redis"] == "unavailable"
    # The ping times out after 0.5 s; a probe must not hang for the default (no) timeout.
    assert elapsed < 3, f"/healthz took {elapsed:.1f} s with a silent Redis"


class _BrokenConnection:
    """Stands in for django.db.connection when the database server has gone away."""

    def cursor(self) -> None:
        raise OperationalError("server closed the connection unexpectedly")


def test_healthz_is_503_when_the_database_fails(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "connection", _BrokenConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "error"
    assert "redis" in body
