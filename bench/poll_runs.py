"""Benchmark: one poll cycle with N active runs on one profile (not a timed test).

Runs triggered on a paused DAG stay queued: a cheap load for Airflow, a real one for the
poller. Reports Airflow requests, seconds and rows written per cycle, for the first cycle
(every run is new to the panel) and a steady cycle (nothing changed).

    .venv/bin/python bench/poll_runs.py                 # N = 100 and 1000, own Airflow
    .venv/bin/python bench/poll_runs.py --runs 100 --airflow-url http://127.0.0.1:18080

Target (issue 4): at most 2 x ceil(N / 100) + 1 requests per cycle.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WORK = Path(tempfile.mkdtemp(prefix="panel-bench-"))
os.environ.update(
    DJANGO_SETTINGS_MODULE="controlpanel.settings",
    DEBUG="1",
    DATABASE_URL=f"sqlite:///{WORK / 'bench.sqlite3'}",
    FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    STALE_RUN_SECONDS="3600",
)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from controlpanel.models import AirflowProfile, Run  # noqa: E402
from controlpanel.services import catalog, tracking  # noqa: E402
from dags_api import AirflowClient, BasicAuth, ConnectionSettings, new_dag_run_id  # noqa: E402
from tests.harness.airflow import start_airflow  # noqa: E402

BENCH_DAG = "cp_paused"


def trigger_queued_runs(url: str, password: str, count: int) -> list[str]:
    """Start ``count`` runs of the paused DAG (they stay queued), 8 at a time."""
    settings = ConnectionSettings(url, BasicAuth("admin", password), allow_insecure_http=True)
    with AirflowClient(settings) as client, ThreadPoolExecutor(8) as pool:
        ids = [new_dag_run_id("bench") for _ in range(count)]
        list(pool.map(lambda run_id: client.trigger_dag_run(BENCH_DAG, dag_run_id=run_id), ids))
        return ids


def clean_up(url: str, password: str, run_ids: list[str]) -> None:
    """Mark the benchmark's runs failed so they stop counting as active."""
    settings = ConnectionSettings(url, BasicAuth("admin", password), allow_insecure_http=True)
    with AirflowClient(settings) as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda r: client.set_dag_run_state(BENCH_DAG, r, "failed"), run_ids))


def bench(url: str, password: str, runs: int) -> list[str]:
    """Measure the first and a steady poll cycle with ``runs`` active runs."""
    Run.objects.all().delete()
    profile = AirflowProfile.objects.get(slug="bench")
    started = time.monotonic()
    run_ids = trigger_queued_runs(url, password, runs)
    print(f"  triggered {runs} runs in {time.monotonic() - started:.1f} s", flush=True)
    # The panel tracks them as if triggered through it.
    Run.objects.bulk_create([Run(profile=profile, dag_id=BENCH_DAG, dag_run_id=r) for r in run_ids])
    lines = []
    target = 2 * math.ceil(runs / 100) + 1
    for label in ("first cycle", "steady cycle"):
        cycle = tracking.poll_profile(profile)
        assert not cycle.error, cycle.error
        lines.append(
            f"| {runs} | {label} | {cycle.requests} (target <= {target}) | "
            f"{cycle.seconds:.2f} | {cycle.rows_written} | {cycle.runs_seen} |"
        )
        print(lines[-1], flush=True)
    clean_up(url, password, run_ids)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, action="append", help="N (repeatable)")
    parser.add_argument("--airflow-url", help="reuse a harness Airflow (admin/admin-pass)")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    instance = None
    url = args.airflow_url
    if not url:
        print("starting an Airflow with the harness ...", flush=True)
        instance = start_airflow(WORK / "airflow")
        url = instance.url
    try:
        profile = AirflowProfile(
            name="Bench",
            slug="bench",
            base_url=url,
            username="admin",
            allow_insecure_http=True,
            track_external_runs=False,
        )
        profile.set_secret("admin-pass")
        profile.save()
        catalog.refresh_catalog(profile)
        print("| N | cycle | Airflow requests | seconds | rows written | runs seen |")
        print("|---|---|---|---|---|---|")
        for runs in args.runs or [100, 1000]:
            bench(url, "admin-pass", runs)
    finally:
        if instance:
            instance.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
