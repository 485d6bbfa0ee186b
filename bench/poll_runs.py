"""Benchmark: polling N active runs of a five-task DAG on one profile (not a timed test).

Runs triggered on a paused DAG stay queued: a cheap load for Airflow, a real one for the
poller. Measured, each next to its target (issue 15):

- poll cycles with N = 100 and 1000 tracked runs of ``cp_paused_wide`` (five tasks): Airflow
  requests and seconds of the first cycle (every run new to the panel), of the cycles that
  catch up with the first reads left for them, and of a steady one (nothing changed);
  target at most 2 x ceil(N / 100) + 1 requests, under half the poll interval (2.5 s) at
  N = 1000;
- end-to-panel lag with the 1000 runs still tracked: fast ``cp_quick`` runs are triggered
  through the panel while a real Celery beat and worker poll every ``POLL_INTERVAL_SECONDS``
  (5 s); lag = when the panel's database shows the run finished minus Airflow's end date;
  target p95 <= interval + 2 s;
- a direct trigger (``POST /dags/{id}/dagRuns``) with basic auth against one with a session
  cookie, and through ``dags_api`` as it is configured, interleaved.

    .venv/bin/python bench/poll_runs.py                # PostgreSQL, own Airflow, everything
    .venv/bin/python bench/poll_runs.py --airflow-url http://127.0.0.1:18080 --runs 100 --no-lag

The database defaults to a throwaway PostgreSQL database (created and dropped);
``--database-url sqlite:///...`` works too. Redis (``--redis-url``) is needed for the lag.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import requests
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WORK = Path(tempfile.mkdtemp(prefix="panel-bench-"))
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/bench_poll"
BENCH_DAG = "cp_paused_wide"  # paused, five tasks
FAST_DAG = "cp_quick"  # unpaused, one quick task
ANCHOR_DAG = "cp_paused"
POLL_INTERVAL = 5.0
ADMIN = ("admin", "admin-pass")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, action="append", help="N (repeatable; 100, 1000)")
    parser.add_argument("--airflow-url", help="reuse a harness Airflow 2 or 3 (admin/admin-pass)")
    parser.add_argument("--database-url", default=DEFAULT_PG, help=f"default {DEFAULT_PG}")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--lag-runs", type=int, default=10, help="fast runs for the lag")
    parser.add_argument("--no-lag", action="store_true", help="skip the end-to-panel lag")
    parser.add_argument("--trigger-samples", type=int, default=20, help="per variant")
    return parser.parse_args()


ARGS = parse_args()
ENV = {
    "DJANGO_SETTINGS_MODULE": "controlpanel.settings",
    "DEBUG": "1",
    "DATABASE_URL": ARGS.database_url,
    "REDIS_URL": ARGS.redis_url,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "AUDIT_HMAC_KEYS": uuid.uuid4().hex * 2,
    "AUDIT_CHECKPOINT_DIR": str(WORK / "checkpoints"),
    "STALE_RUN_SECONDS": "3600",
    "POLL_INTERVAL_SECONDS": str(POLL_INTERVAL),
    "CATALOG_SYNC_SECONDS": "3600",
    "CELERY_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
    "LOG_LEVEL": "INFO",
}
os.environ.update(ENV)


def create_database(url: str) -> Callable[[], None]:
    """Create the throwaway PostgreSQL database; returns how to drop it."""
    if not url.startswith("postgres"):
        return lambda: None
    server, name = url.rsplit("/", 1)
    admin = f"{server}/postgres"

    def execute(sql: str) -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql)

    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    execute(f'CREATE DATABASE "{name}"')
    return lambda: execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


DROP_DATABASE = create_database(ARGS.database_url)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from controlpanel.audit import Actor  # noqa: E402
from controlpanel.models import AirflowProfile, Run  # noqa: E402
from controlpanel.services import actions, catalog, tracking  # noqa: E402
from dags_api import AirflowClient, BasicAuth, ConnectionSettings, new_dag_run_id  # noqa: E402
from tests.harness.airflow import start_airflow  # noqa: E402


def airflow_client(url: str) -> AirflowClient:
    """A dags_api client for the harness admin, configured as the panel's clients are
    (``login_session``: one login, then the session cookie instead of basic auth)."""
    settings = ConnectionSettings(
        url, BasicAuth(*ADMIN), allow_insecure_http=True, login_session=True
    )
    return AirflowClient(settings)


def trigger_queued_runs(url: str, dag_id: str, count: int) -> list[str]:
    """Start ``count`` runs of a paused DAG (they stay queued), 8 at a time on Airflow 2.

    One at a time on Airflow 3: the harness's runs on SQLite and answers concurrent triggers
    with "database is locked".
    """
    client = airflow_client(url)
    threads = 8 if client.api_version == "v1" else 1
    with client, ThreadPoolExecutor(threads) as pool:
        ids = [new_dag_run_id("bench") for _ in range(count)]
        list(pool.map(lambda run_id: client.trigger_dag_run(dag_id, dag_run_id=run_id), ids))
        return ids


def clean_up(url: str, dag_id: str, run_ids: list[str]) -> None:
    """Mark the benchmark's runs failed so they stop counting as active."""
    with airflow_client(url) as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda r: client.set_dag_run_state(dag_id, r, "failed"), run_ids))


def track_as_panel_runs(profile: AirflowProfile, dag_id: str, run_ids: list[str]) -> None:
    """The panel tracks the runs as if triggered through it, none polled yet."""
    Run.objects.filter(profile=profile).delete()
    Run.objects.bulk_create([Run(profile=profile, dag_id=dag_id, dag_run_id=r) for r in run_ids])


def bench_cycles(profile: AirflowProfile, runs: int) -> None:
    """Print every poll cycle with ``runs`` tracked runs until the first reads are done
    (the first cycles share them under the request budget), then a steady cycle."""
    target = 2 * math.ceil(runs / 100) + 1
    for number in range(1, 30):
        never_read = Run.objects.filter(profile=profile, last_polled_at__isnull=True).exists()
        label = "first" if number == 1 else "catching up" if never_read else "steady"
        cycle = tracking.poll_profile(profile)
        assert not cycle.error, cycle.error
        seconds_target = " (target < 2.5)" if runs >= 1000 else ""
        print(
            f"| {runs} | {label} | {cycle.requests} (target <= {target}) | "
            f"{cycle.seconds:.2f}{seconds_target} | {cycle.rows_written} | {cycle.runs_seen} |",
            flush=True,
        )
        if label == "steady":
            return


def start_celery(logs: Path) -> list[subprocess.Popen[bytes]]:
    """A Celery worker and beat as the product runs them (docker-compose.yml), on our queue."""
    env = {**os.environ, **ENV}
    commands = [
        ["worker", "--concurrency", "2", "--hostname", f"bench-{uuid.uuid4().hex[:6]}@bench"],
        ["beat", "--schedule", str(logs / "beat-schedule")],
    ]
    processes = []
    for command in commands:
        with open(logs / f"{command[0]}.log", "ab") as log:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "controlpanel", *command],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    return processes


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop the worker and beat we started (their process groups)."""
    for proc in processes:
        try:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, 9)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def wait_finished_in_panel(run: Run, timeout: float = 300) -> float:
    """Wait until the panel's database shows ``run`` finished; returns the wall time then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Run.objects.filter(pk=run.pk, is_finished=True).exists():
            return time.time()
        time.sleep(0.05)
    raise RuntimeError(f"run {run.dag_run_id} not finished in the panel after {timeout} s")


def bench_lag(profile: AirflowProfile, count: int) -> None:
    """End-to-panel lag of ``count`` fast runs while the tracked runs stay queued."""
    from django.contrib.auth import get_user_model

    boss = get_user_model().objects.create_superuser("bench", "bench@example.invalid", "x")
    fast = profile.dags.get(dag_id=FAST_DAG)
    processes = start_celery(WORK)
    lags: list[float] = []
    try:
        for _ in range(count):
            wish = actions.TriggerInput()
            run = actions.started_run(actions.trigger(Actor(user=boss), fast, wish))
            seen_at = wait_finished_in_panel(run)
            run.refresh_from_db()
            assert run.end_date is not None and run.state == "success", run.state
            lags.append(seen_at - run.end_date.timestamp())
            print(f"  lag {lags[-1]:.2f} s", flush=True)
    finally:
        stop_processes(processes)
    tracked = Run.objects.filter(profile=profile, dag_id=BENCH_DAG, is_finished=False).count()
    p50, p95 = statistics.median(lags), percentile(lags, 0.95)
    target = POLL_INTERVAL + 2
    print(
        f"end-to-panel lag with {tracked} tracked, {len(lags)} runs: p50 {p50:.2f} s, "
        f"p95 {p95:.2f} s (target p95 <= {target:.0f} s), max {max(lags):.2f} s",
        flush=True,
    )
    cycles = re.findall(r"seconds=([0-9.]+)", (WORK / "worker.log").read_text())
    skipped = (WORK / "worker.log").read_text().count("another worker is polling it")
    if cycles:
        seconds = [float(s) for s in cycles]
        print(
            f"  worker: {len(seconds)} cycles, median {statistics.median(seconds):.2f} s, "
            f"max {max(seconds):.2f} s; {skipped} polls skipped (profile locked)",
            flush=True,
        )


def session_cookie_login(url: str) -> requests.Session:
    """A requests session logged in through Airflow 2's login form (the anchor)."""
    session = requests.Session()
    page = session.get(f"{url}/login/", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert token, "no csrf_token on Airflow's login page"
    session.post(
        f"{url}/login/",
        data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": token.group(1)},
        timeout=10,
    )
    return session


def bench_trigger(url: str, samples: int) -> None:
    """Median direct trigger: basic auth, session cookie, and dags_api as configured."""
    endpoint = f"{url}/api/v1/dags/{ANCHOR_DAG}/dagRuns"
    basic = requests.Session()
    basic.auth = ADMIN
    cookie = session_cookie_login(url)
    client = airflow_client(url)
    client.list_dag_runs(dag_ids=[ANCHOR_DAG], states=["queued"])  # the login happens here
    requests_before = client.transport.request_count
    variants: dict[str, Callable[[str], Any]] = {
        "basic auth": lambda r: basic.post(endpoint, json={"dag_run_id": r}, timeout=30),
        "session cookie": lambda r: cookie.post(endpoint, json={"dag_run_id": r}, timeout=30),
        "dags_api client": lambda r: client.trigger_dag_run(ANCHOR_DAG, dag_run_id=r),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    run_ids = []
    for _ in range(samples):
        for name, send in variants.items():  # interleaved
            run_id = new_dag_run_id("anchor")
            started = time.perf_counter()
            answer = send(run_id)
            times[name].append(time.perf_counter() - started)
            if isinstance(answer, requests.Response):
                answer.raise_for_status()
            run_ids.append(run_id)
    client_requests = client.transport.request_count - requests_before
    for name, values in times.items():
        print(f"| direct trigger, {name} | {statistics.median(values) * 1000:.0f} ms |")
    logins = client.transport.logins.login_count if client.transport.logins else 0
    print(
        f"  (dags_api client: {client_requests} requests for {samples} triggers, "
        f"{logins} login in all)"
    )
    clean_up(url, ANCHOR_DAG, run_ids)
    client.close()


def main() -> int:
    call_command("migrate", verbosity=0)
    instance = None
    url = ARGS.airflow_url
    if not url:
        print("starting an Airflow with the harness ...", flush=True)
        instance = start_airflow(WORK / "airflow")
        url = instance.url
    run_ids: list[str] = []
    try:
        profile = AirflowProfile(
            name="Bench", slug="bench", base_url=url, username=ADMIN[0],
            allow_insecure_http=True, track_external_runs=False,
        )  # fmt: skip
        profile.set_secret(ADMIN[1])
        profile.save()
        catalog.refresh_catalog(profile)
        print("| N | cycle | Airflow requests | seconds | rows written | runs seen |")
        print("|---|---|---|---|---|---|")
        for runs in sorted(ARGS.runs or [100, 1000]):
            started = time.monotonic()
            run_ids += trigger_queued_runs(url, BENCH_DAG, runs - len(run_ids))
            print(f"  {runs} queued runs ({time.monotonic() - started:.0f} s)", flush=True)
            track_as_panel_runs(profile, BENCH_DAG, run_ids)
            bench_cycles(profile, runs)
        if not ARGS.no_lag:
            bench_lag(profile, ARGS.lag_runs)
        if profile.api_version == AirflowProfile.ApiVersion.V1:
            bench_trigger(url, ARGS.trigger_samples)  # Airflow 2's basic auth vs session
        else:
            print("Airflow 3: no basic auth to compare (the client reuses one JWT)")
    finally:
        if instance:
            instance.stop()
        elif run_ids:
            clean_up(url, BENCH_DAG, run_ids)
        from django.db import connections

        connections.close_all()
        DROP_DATABASE()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
