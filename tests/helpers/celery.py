"""Real Celery worker and beat processes for tests, sharing the test's database.

``celery_processes`` is a fixture, registered for every test in tests/conftest.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[2]


def database_url_of_this_test() -> str:
    """A DATABASE_URL for the test database this test runs in (SQLite file or PostgreSQL)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class CeleryProcesses:
    """Start and kill worker and beat processes sharing this test's database and queue."""

    def __init__(self, redis_url: str, logs: Path) -> None:
        self.logs = logs
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DATABASE")},
            "DJANGO_SETTINGS_MODULE": "controlpanel.settings",
            "DEBUG": "1",
            "DATABASE_URL": database_url_of_this_test(),
            "REDIS_URL": redis_url,
            "CELERY_QUEUE": f"panel-test-{uuid.uuid4().hex[:8]}",
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),  # the test's keys
            "AUDIT_HMAC_KEYS": ",".join(settings.AUDIT_HMAC_KEYS),
            "AUDIT_CHECKPOINT_DIR": str(settings.AUDIT_CHECKPOINT_DIR),
            "POLL_INTERVAL_SECONDS": "1",
            "CATALOG_SYNC_SECONDS": "3600",
            "POLL_LOCK_SECONDS": "5",
            "POLL_BACKOFF_MAX_SECONDS": "3",
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        command = {
            "worker": [
                "worker",
                "--pool",
                "solo",
                "--concurrency",
                "1",
                "--hostname",
                f"{name}-{uuid.uuid4().hex[:6]}@test",
            ],
            "beat": ["beat", "--schedule", str(self.logs / "beat-schedule")],
        }[name.split("-")[0]]
        with open(self.logs / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "controlpanel",
                    *command,
                    "--loglevel",
                    "INFO",
                ],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        proc = self.processes.pop(name)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM)

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.logs.glob("*.log"))
        )


@pytest.fixture
def celery_processes(tmp_path: Path) -> Iterator[CeleryProcesses]:
    """A worker and a beat on a queue of their own, stopped after the test."""
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") or os.environ.get("PANEL_REQUIRE_SERVICES"):
            raise
        pytest.skip(f"no Redis at {redis_url}: {exc}")
    processes = CeleryProcesses(redis_url, tmp_path)
    processes.start("worker")
    processes.start("beat")
    yield processes
    processes.stop_all()


def wait_for(
    condition: Callable[[], bool], processes: CeleryProcesses, timeout: float = 240, what: str = ""
) -> None:
    """Wait until ``condition()``, failing with the processes' logs after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{processes.log_tail()}")
        time.sleep(0.5)
