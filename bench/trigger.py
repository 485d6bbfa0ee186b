"""Benchmark: a trigger through the panel's API against a direct Airflow POST (not a timed test).

The panel runs under gunicorn, as in production, on PostgreSQL; an operator's API token
triggers a paused harness DAG (its runs stay queued, so Airflow's scheduler does not add
noise). Samples alternate: direct Airflow POST, panel POST, direct, panel ... and the
medians are compared. Also counts the SQL queries of one trigger through the API.

    .venv/bin/python bench/trigger.py                                  # own Airflow
    .venv/bin/python bench/trigger.py --airflow-url http://127.0.0.1:18080 --samples 60
    .venv/bin/python bench/trigger.py --show-queries                   # list them

Target (issue 15): panel median <= 1.15 x the direct Airflow POST's median. The
Airflow-compatible API (issue 17) is sampled too: v1 with basic auth (username and panel
token: one token hash lookup, no password hasher) and v2 with a bearer token.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _bench_db import throwaway_database  # noqa: E402

BENCH_DAG = "cp_paused"
PASSWORD = "admin-pass"
TARGET = 1.15


def configure(database_url: str) -> dict[str, str]:
    """The environment of the panel (this process and its gunicorn)."""
    env = {
        "DJANGO_SETTINGS_MODULE": "controlpanel.settings",
        "DEBUG": "1",
        "STATIC_MANIFEST": "0",
        "DATABASE_URL": database_url,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "API_THROTTLE_RATE": "100000/minute",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    }
    os.environ.update(env)
    return env


def set_up_panel(airflow_url: str) -> str:
    """A profile, a team granted the DAG at trigger level, an operator and their token."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from controlpanel.audit import Actor
    from controlpanel.models import AirflowProfile
    from controlpanel.services import catalog, teams, tokens

    call_command("migrate", verbosity=0)
    admin = get_user_model().objects.create_superuser("bench-admin", password=uuid.uuid4().hex)
    operator = get_user_model().objects.create_user("bench-operator", password=uuid.uuid4().hex)
    profile = AirflowProfile(
        name="Bench", slug="bench", base_url=airflow_url, username="admin",
        allow_insecure_http=True, track_external_runs=False,
    )  # fmt: skip
    profile.set_secret(PASSWORD)
    profile.save()
    catalog.refresh_catalog(profile)
    actor = Actor(user=admin)
    team = teams.create_team(actor, name="Bench", slug="bench")
    teams.add_member(actor, team, operator, "member")
    teams.add_grant(
        actor, team, profile=profile, level="trigger", dag_ids=[BENCH_DAG], dag_patterns=[], tags=[]
    )
    _, plaintext = tokens.create_token(actor, operator, "bench")
    return plaintext


def count_queries(token: str, show: bool) -> int:
    """The SQL queries of one trigger through the API, in this process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    path = f"/api/dags/bench/{BENCH_DAG}/runs/"
    client.post(path, {"conf": {}}, content_type="application/json")  # warm caches
    with CaptureQueriesContext(connection) as queries:
        answer = client.post(path, {"conf": {}}, content_type="application/json")
    assert answer.status_code == 201, answer.content
    captured = list(queries.captured_queries)  # the next requests reset Django's query log
    if os.environ.get("BENCH_PROFILE"):  # where the time goes, for whoever tunes this
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(10):
            client.post(path, {"conf": {}}, content_type="application/json")
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats(os.environ["BENCH_PROFILE"])
        stats.print_stats(45)
        stats.print_callers("connect|getitem")
    if show:
        for number, query in enumerate(captured, 1):
            print(f"  {number:2}. {query['sql'][:160]}")
    return len(captured)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        str(REPO / ".venv/bin/gunicorn"), "controlpanel.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--threads", "1", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(f"{url}/healthz", timeout=5)
            return process, url
        except requests.RequestException:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


def airflow_session(airflow_url: str) -> requests.Session | None:
    """A session signed in to Airflow 2's web UI, when its API takes session cookies."""
    session = requests.Session()
    page = session.get(f"{airflow_url}/login/", timeout=10)
    marker = 'name="csrf_token" type="hidden" value="'
    if marker not in page.text:
        return None
    csrf = page.text.split(marker, 1)[1].split('"', 1)[0]
    session.post(
        f"{airflow_url}/login/",
        data={"csrf_token": csrf, "username": "admin", "password": PASSWORD},
        timeout=10,
    )
    probe = session.get(f"{airflow_url}/api/v1/dags?limit=1", timeout=10)
    return session if probe.status_code == 200 else None


def sample(samples: int, airflow_url: str, panel_url: str, token: str) -> dict[str, list[float]]:
    """Alternate the anchors and the panel; seconds per request."""
    basic = requests.Session()
    basic.auth = ("admin", PASSWORD)
    signed_in = airflow_session(airflow_url)
    panel = requests.Session()
    panel.headers["Authorization"] = f"Bearer {token}"
    direct_path = f"{airflow_url}/api/v1/dags/{BENCH_DAG}/dagRuns"
    panel_path = f"{panel_url}/api/dags/bench/{BENCH_DAG}/runs/"
    compat_basic = requests.Session()
    compat_basic.auth = ("bench-operator", token)  # an Airflow 2 client's credentials
    compat = f"{panel_url}/airflow/bench/api"
    senders = {
        "Airflow direct (basic auth)": (basic, direct_path, 200),
        "panel API (bearer token)": (panel, panel_path, 201),
        "panel Airflow-compatible v1 (basic, token)": (
            compat_basic,
            f"{compat}/v1/dags/{BENCH_DAG}/dagRuns",
            200,
        ),
        "panel Airflow-compatible v2 (bearer token)": (
            panel,
            f"{compat}/v2/dags/{BENCH_DAG}/dagRuns",
            200,
        ),
    }
    if signed_in is not None:
        senders["Airflow direct (session cookie)"] = (signed_in, direct_path, 200)
    times: dict[str, list[float]] = {name: [] for name in senders}
    for index in range(samples + 3):
        for name, (session, path, expected) in senders.items():
            body: dict[str, object] = {"conf": {}}
            if "v2" in name:
                body["logical_date"] = None
            if "Airflow direct" in name:
                body["dag_run_id"] = f"bench__{uuid.uuid4().hex}"
            started = time.perf_counter()
            answer = session.post(path, json=body, timeout=30)
            took = time.perf_counter() - started
            assert answer.status_code == expected, (name, answer.status_code, answer.text[:300])
            if index >= 3:  # the first rounds warm connections and caches
                times[name].append(took)
    return times


def clean_up(airflow_url: str) -> None:
    """Fail the benchmark's queued runs so they stop counting as active in Airflow."""
    session = requests.Session()
    session.auth = ("admin", PASSWORD)
    runs = f"{airflow_url}/api/v1/dags/{BENCH_DAG}/dagRuns"
    queued: dict[str, str | int] = {"state": "queued", "limit": 100}
    while batch := session.get(runs, params=queued, timeout=30).json()["dag_runs"]:
        for run in batch:
            session.patch(f"{runs}/{run['dag_run_id']}", json={"state": "failed"}, timeout=30)


def report(times: dict[str, list[float]], queries: int) -> None:
    panel = statistics.median(times["panel API (bearer token)"])
    print(f"\nSQL queries of one trigger through the API: {queries}")
    print("| sender | median ms | p95 ms | panel / this |")
    print("|---|---|---|---|")
    for name, values in times.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        median = statistics.median(values)
        ratio = "" if name.startswith("panel") else f"{panel / median:.2f} (target <= {TARGET})"
        if name.startswith("panel Airflow-compatible"):
            direct = statistics.median(times["Airflow direct (basic auth)"])
            ratio = f"this / direct basic: {median / direct:.2f}"
        print(f"| {name} | {median * 1000:.0f} | {p95 * 1000:.0f} | {ratio} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--airflow-url", help="reuse a harness Airflow 2 (admin/admin-pass)")
    parser.add_argument("--database-url", help="default: a throwaway PostgreSQL database")
    parser.add_argument("--samples", type=int, default=40, help="samples per sender")
    parser.add_argument("--show-queries", action="store_true")
    args = parser.parse_args()
    from tests.harness.airflow import start_airflow

    instance = None
    with throwaway_database(args.database_url, "bench_trigger") as database_url:
        env = configure(database_url)
        url = args.airflow_url
        if not url:
            print("starting an Airflow with the harness ...", flush=True)
            instance = start_airflow(Path(tempfile.mkdtemp(prefix="panel-bench-")) / "airflow")
            url = instance.url
        gunicorn = None
        try:
            token = set_up_panel(url)
            queries = count_queries(token, args.show_queries)
            gunicorn, panel_url = start_gunicorn(env)
            report(sample(args.samples, url, panel_url, token), queries)
        finally:
            if gunicorn is not None:
                gunicorn.send_signal(signal.SIGTERM)
                gunicorn.wait(timeout=30)
            if instance:
                instance.stop()
            else:
                clean_up(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
