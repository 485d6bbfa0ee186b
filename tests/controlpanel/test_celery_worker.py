"""A real Celery worker, started the way operators start it, runs the panel's tasks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from controlpanel import celery_app
from controlpanel.tasks import ping

pytestmark = pytest.mark.celery

REPO_ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")


@dataclass
class Worker:
    """A worker process started for one test, and where its output goes."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """Return what the worker has written so far, to explain a failure."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def worker_queue(reachable_redis_url: str) -> Iterator[str]:
    """A queue name used only by this test, so no other worker on the test Redis can steal
    the task (and make the test pass without our worker); its keys are removed afterwards."""
    queue = f"test-ping-{uuid.uuid4().hex}"
    yield queue
    client = redis.Redis.from_url(reachable_redis_url)
    try:
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def celery_app_on_test_redis(reachable_redis_url: str, worker_queue: str) -> Iterator[None]:
    """Point this process' Celery app at the test Redis and queue; restore it afterwards."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.result_backend, conf.task_default_queue)
    celery_app.close()  # drop pooled connections to the previous broker
    conf.update(
        broker_url=reachable_redis_url,
        result_backend=reachable_redis_url,
        task_default_queue=worker_queue,
    )
    yield
    celery_app.close()
    conf.update(broker_url=saved[0], result_backend=saved[1], task_default_queue=saved[2])


@pytest.fixture
def worker(
    reachable_redis_url: str,
    worker_queue: str,
    subprocess_env: Callable[..., dict[str, str]],
    tmp_path: Path,
) -> Iterator[Worker]:
    """Run ``celery -A controlpanel worker`` in its own process group; kill the group after."""
    log_path = tmp_path / "worker.log"
    command = [str(CELERY), "-A", "controlpanel", "worker", "--pool=solo", "--concurrency=1"]
    command += ["-l", "info", "-Q", worker_queue, "-n", f"{worker_queue}@%h"]
    command += ["--without-mingle", "--without-gossip"]
    env = subprocess_env(REDIS_URL=reachable_redis_url, DEBUG="1", STATIC_MANIFEST="0")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Worker(process, log_path)
    finally:
        _stop_process_group(process)


def _stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """Ask the worker's whole process group to stop, and kill it if it does not."""
    if process.poll() is not None:
        return
    # The group may vanish between poll() and killpg(); that is the outcome we want anyway.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def test_real_worker_runs_ping(worker: Worker, celery_app_on_test_redis: None) -> None:
    result = ping.delay()
    deadline = time.monotonic() + 30
    while not result.ready():
        if worker.process.poll() is not None:
            pytest.fail(f"worker exited with {worker.process.returncode}:\n{worker.log()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no result from the worker within 30 s; its log:\n{worker.log()}")
        time.sleep(0.2)
    assert result.get(timeout=30) == "pong"
    # The worker logs success just after storing the result, so allow it a moment.
    success_line = f"controlpanel.tasks.ping[{result.id}] succeeded"
    deadline = time.monotonic() + 10
    while success_line not in worker.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert success_line in worker.log(), worker.log()
