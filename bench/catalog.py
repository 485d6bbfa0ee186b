"""Benchmark: the DAG catalog page next to Airflow's own /home, and the catalog sync.

At 1,000 and 10,000 DAGs (generated in the harness Airflow 2.11: files of 500 small DAGs
with params and tags, parsed by Airflow's scheduler), it syncs the panel's catalog (first
sync on an empty catalog, then a steady one: requests and seconds), gives every DAG a few
panel runs, then takes interleaved samples of the panel's catalog page (first and last
page, as an admin and as a team member with pattern and tag grants, through the real view
with a logged-in Django client) and of Airflow's /home (logged in, same page size: the
Airflow it starts shows 50 DAGs a page like the panel). Prints the p50 of each side, their
ratio next to the target and the sync figures. Not a timed test.

    .venv/bin/python bench/catalog.py                    # 1,000 and 10,000 DAGs, own Airflow
    .venv/bin/python bench/catalog.py --dags 1000 --samples 10
    .venv/bin/python bench/catalog.py --airflow-url http://127.0.0.1:18380 \\
        --airflow-home /tmp/af/bench    # reuse a harness Airflow (its DAG folder is HOME/dags)

The panel database is PostgreSQL: a throwaway database the script creates and drops
(``--database-url`` to use another one, which it leaves in place).
Targets (issue 15): catalog p50 <= 0.5 x Airflow's /home p50 at both sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WORK = Path(tempfile.mkdtemp(prefix="panel-bench-catalog-"))
THROWAWAY_DB = "postgres://postgres@127.0.0.1:5432/bench_catalog"
DAGS_PER_FILE = 500
PAGE_SIZE = 50  # the panel's (controlpanel.views.listing.PAGE_SIZE); Airflow's set to match
TARGET_RATIO = 0.5

# One file of Airflow's DAG folder: DAGS_PER_FILE small DAGs with params and tags.
DAG_FILE = '''"""Benchmark DAGs {first}..{last} (written by bench/catalog.py)."""
from datetime import datetime

from airflow import DAG
from airflow.models.param import Param
from airflow.operators.empty import EmptyOperator

for number in range({first}, {last} + 1):
    with DAG(
        dag_id=f"bench_{{number:05d}}",
        description=f"Benchmark DAG number {{number}}",
        start_date=datetime(2024, 1, 1),
        schedule=None,
        catchup=False,
        is_paused_upon_creation=True,
        tags=["bench", f"group_{{number % 20}}"],
        params={{
            "rows": Param(number, type="integer", minimum=0, description="How many rows"),
            "target": Param("warehouse", type="string", enum=["warehouse", "lake"]),
            "note": Param("", type="string", description="Free text"),
        }},
    ) as dag:
        EmptyOperator(task_id="only")
    globals()[dag.dag_id] = dag
'''

AIRFLOW_CFG = """[core]
dagbag_import_timeout = 600
dag_file_processor_timeout = 600
[webserver]
page_size = {page_size}
[scheduler]
# Parse each file once (and again when it changes): 10,000 DAGs re-parsed every 30 s
# would keep the shared machine busy.
min_file_process_interval = 3600
"""


def prepare_database(url: str | None) -> str:
    """The panel database URL; without one, a fresh throwaway PostgreSQL database."""
    if url:
        return url
    _admin_sql("DROP DATABASE IF EXISTS bench_catalog")
    _admin_sql("CREATE DATABASE bench_catalog")
    return THROWAWAY_DB


def _admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(statement)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dags", type=int, action="append", help="DAG count (repeatable)")
    parser.add_argument("--samples", type=int, default=15, help="samples per page and side")
    parser.add_argument("--airflow-url", help="reuse a running harness Airflow 2 (admin)")
    parser.add_argument("--airflow-home", type=Path, help="its AIRFLOW_HOME (for the DAG files)")
    parser.add_argument("--database-url", help="panel database (default: throwaway PostgreSQL)")
    return parser.parse_args()


ARGS = parse_args() if __name__ == "__main__" else argparse.Namespace(database_url=None)
DATABASE_URL = prepare_database(ARGS.database_url)
os.environ.update(
    DJANGO_SETTINGS_MODULE="controlpanel.settings",
    DEBUG="0",
    SECRET_KEY="bench-" + Fernet.generate_key().decode(),
    SECURE_COOKIES="0",
    STATIC_MANIFEST="0",
    ALLOWED_HOSTS="testserver",
    DATABASE_URL=DATABASE_URL,
    FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    AUDIT_HMAC_KEYS=secrets.token_urlsafe(32),
    LOG_LEVEL="WARNING",
)

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from controlpanel.airflow_clients import client_for  # noqa: E402
from controlpanel.models import (  # noqa: E402
    AirflowProfile,
    Dag,
    DagGrant,
    Run,
    Team,
    TeamMembership,
)
from controlpanel.services import catalog  # noqa: E402
from tests.harness.airflow import start_airflow  # noqa: E402

ADMIN_PASSWORD = "admin-pass"


# --- Airflow side ---------------------------------------------------------------------------


def write_dag_files(home: Path, count: int) -> None:
    """The generator files for ``count`` DAGs in HOME/dags (files beyond it are removed)."""
    folder = home / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    for extra in folder.glob("bench_catalog_*.py"):
        if int(extra.stem.rsplit("_", 1)[1]) * DAGS_PER_FILE >= count:
            extra.unlink()
    for first in range(0, count, DAGS_PER_FILE):
        path = folder / f"bench_catalog_{first // DAGS_PER_FILE:03d}.py"
        last = min(first + DAGS_PER_FILE, count) - 1
        text = DAG_FILE.format(first=first, last=last)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def bench_dag_count(session: requests.Session, url: str) -> int:
    """How many active bench_ DAGs Airflow's REST API lists."""
    answer = session.get(
        f"{url}/api/v1/dags",
        params={"limit": "1", "dag_id_pattern": "bench_", "only_active": "true"},
        auth=("admin", ADMIN_PASSWORD),
        timeout=120,
    )
    answer.raise_for_status()
    return int(answer.json()["total_entries"])


def wait_for_dags(url: str, count: int) -> float:
    """Wait until Airflow lists exactly ``count`` bench DAGs; the seconds it took."""
    started = time.monotonic()
    session = requests.Session()
    last_seen = -1
    while (seen := bench_dag_count(session, url)) != count:
        if seen != last_seen:
            print(
                f"  Airflow lists {seen} of {count} DAGs after {time.monotonic() - started:.0f} s",
                flush=True,
            )
            last_seen = seen
        time.sleep(10)
    return time.monotonic() - started


def airflow_session(url: str) -> requests.Session:
    """A session logged in to Airflow's web UI as admin (its login form, with CSRF)."""
    session = requests.Session()
    form = session.get(f"{url}/login/", timeout=60).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert token, "no CSRF token on Airflow's login page"
    session.post(
        f"{url}/login/",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token.group(1)},
        timeout=60,
    )
    assert "Sign In" not in session.get(f"{url}/home", timeout=60).text, "login failed"
    return session


# --- panel side -----------------------------------------------------------------------------


def make_profile(url: str) -> AirflowProfile:
    """The panel's profile of the benchmark Airflow."""
    profile = AirflowProfile(
        name="Bench", slug="bench", base_url=url, username="admin", allow_insecure_http=True
    )
    profile.set_secret(ADMIN_PASSWORD)
    profile.save()
    return profile


def make_users(profile: AirflowProfile) -> dict[str, Client]:
    """Logged-in clients: a panel admin, and a team member with pattern and tag grants."""
    users = get_user_model()
    admin = users.objects.create_superuser("bench-admin", "a@example.invalid", "x")
    member = users.objects.create_user("bench-member", "m@example.invalid", "x")
    team = Team.objects.create(name="Bench team", slug="bench-team")
    TeamMembership.objects.create(team=team, user=member)
    DagGrant.objects.create(team=team, profile=profile, dag_patterns=["bench_*5"], level="trigger")
    DagGrant.objects.create(team=team, profile=profile, tags=["group_3"], level="view")
    clients = {}
    for name, user in (("admin", admin), ("member", member)):
        clients[name] = Client()
        clients[name].force_login(user)
    return clients


def add_runs(profile: AirflowProfile, per_dag: int = 3) -> int:
    """``per_dag`` panel runs for every catalog DAG (what the last-run column resolves)."""
    Run.objects.filter(profile=profile).delete()
    dag_ids = list(Dag.objects.filter(profile=profile).values_list("dag_id", flat=True))
    runs = [
        Run(profile=profile, dag_id=dag_id, dag_run_id=f"bench_{n}", state="success")
        for dag_id in dag_ids
        for n in range(per_dag)
    ]
    Run.objects.bulk_create(runs, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return len(runs)


def timed_sync(profile: AirflowProfile) -> tuple[float, int, object]:
    """One catalog sync: seconds, Airflow requests, what it changed."""
    transport = client_for(profile).transport
    before = transport.request_count
    started = time.perf_counter()
    result = catalog.refresh_catalog(profile)
    return (
        time.perf_counter() - started,
        client_for(profile).transport.request_count - before,
        result,
    )


def bench_syncs(profile: AirflowProfile, count: int) -> list[str]:
    """The first sync (empty catalog) and a steady one right after."""
    Dag.objects.filter(profile=profile).delete()
    lines = []
    for label in ("first", "steady"):
        seconds, requests_made, result = timed_sync(profile)
        lines.append(f"| {count} | {label} | {requests_made} | {seconds:.2f} | {result} |")
        print(lines[-1], flush=True)
    return lines


# --- sampling -------------------------------------------------------------------------------


def visible_count(client: Client) -> int:
    """How many DAGs the catalog says the client's user may see."""
    found = re.search(r"(\d+) DAGs? you may see", client.get("/").content.decode())
    assert found, "the catalog did not say how many DAGs it lists"
    return int(found.group(1))


def timed(call: Callable[[], Any]) -> float:
    """Milliseconds one page took (it must answer 200)."""
    started = time.perf_counter()
    answer = call()
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.status_code
    return elapsed * 1000


def last_page(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def bench_pages(url: str, clients: dict[str, Client], samples: int, count: int) -> list[str]:
    """Interleaved samples of the panel's catalog and Airflow's /home; table lines."""
    airflow = airflow_session(url)
    visible = {name: visible_count(client) for name, client in clients.items()}
    airflow_total = bench_dag_count(requests.Session(), url) + _other_dags(url)
    pages = ("first", "last")
    probes: dict[tuple[str, str], Callable[[], Any]] = {}
    for which in pages:
        a_page = 0 if which == "first" else last_page(airflow_total) - 1
        probes[("airflow", which)] = partial(airflow.get, f"{url}/home?page={a_page}")
        for name, client in clients.items():
            number = 1 if which == "first" else last_page(visible[name])
            probes[(name, which)] = partial(client.get, f"/?page={number}")
    for probe in probes.values():  # warm up: caches, connections, templates
        timed(probe)
    times: dict[tuple[str, str], list[float]] = {key: [] for key in probes}
    for _ in range(samples):
        for key, probe in probes.items():
            times[key].append(timed(probe))
    lines = []
    for name in clients:
        for which in pages:
            panel = statistics.median(times[(name, which)])
            anchor = statistics.median(times[("airflow", which)])
            lines.append(
                f"| {count} | {name} ({visible[name]} DAGs) | {which} | {panel:.0f} ms | "
                f"{anchor:.0f} ms | {panel / anchor:.2f} (target <= {TARGET_RATIO}) |"
            )
            print(lines[-1], flush=True)
    return lines


def explain_page(client: Client, path: str) -> list[str]:
    """EXPLAIN ANALYZE of each catalog query of one page: time, most loops, sort spills."""
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    lines = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            sql = query["sql"]
            if "controlpanel_dag" not in sql and "controlpanel_run" not in sql:
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            found = cursor.fetchone()[0]
            plan = (json.loads(found) if isinstance(found, str) else found)[0]
            nodes = list(plan_nodes(plan["Plan"]))
            loops = max(node.get("Actual Loops", 1) for node in nodes)
            disk = any(node.get("Sort Space Type") == "Disk" for node in nodes)
            lines.append(
                f"  {plan['Execution Time']:7.1f} ms  most loops {loops:>6}  "
                f"sort spilled to disk: {'yes' if disk else 'no '}  {sql[:60]}..."
            )
    return lines


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A PostgreSQL plan node and all the nodes under it."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def _other_dags(url: str) -> int:
    """The harness's own DAGs (Airflow's /home lists them too)."""
    answer = requests.get(
        f"{url}/api/v1/dags",
        params={"limit": "1", "only_active": "true"},
        auth=("admin", ADMIN_PASSWORD),
        timeout=120,
    )
    return int(answer.json()["total_entries"]) - bench_dag_count(requests.Session(), url)


# --- main -----------------------------------------------------------------------------------


def main() -> int:
    counts = ARGS.dags or [1000, 10000]
    call_command("migrate", verbosity=0)
    instance = None
    url, home = ARGS.airflow_url, ARGS.airflow_home
    if not url:
        home = WORK / "airflow"
        home.mkdir(parents=True)
        (home / "airflow.cfg").write_text(AIRFLOW_CFG.format(page_size=PAGE_SIZE))
        print("starting an Airflow 2.11 with the harness ...", flush=True)
        instance = start_airflow(home)
        url = instance.url
    assert home is not None, "--airflow-home is needed with --airflow-url"
    sync_lines: list[str] = []
    page_lines: list[str] = []
    explain_lines: list[str] = []
    try:
        profile = make_profile(url)
        clients = make_users(profile)
        for count in counts:
            write_dag_files(home, count)
            waited = wait_for_dags(url, count)
            print(f"Airflow lists {count} benchmark DAGs ({waited:.0f} s of waiting)", flush=True)
            sync_lines += bench_syncs(profile, count)
            print(f"  {add_runs(profile)} panel runs", flush=True)
            page_lines += bench_pages(url, clients, ARGS.samples, count)
            last = last_page(visible_count(clients["admin"]))
            explain_lines.append(f"{count} DAGs, the admin's last page (/?page={last}):")
            explain_lines += explain_page(clients["admin"], f"/?page={last}")
    finally:
        if instance:
            instance.stop()
        if not ARGS.database_url:
            connection.close()
            _admin_sql("DROP DATABASE IF EXISTS bench_catalog")
    print("\nCatalog sync (panel on PostgreSQL, Airflow 2.11):")
    print("| DAGs | sync | Airflow requests | seconds | result |\n|---|---|---|---|---|")
    print("\n".join(sync_lines))
    print(f"\nCatalog page p50 against Airflow's /home ({ARGS.samples} interleaved samples):")
    print("| DAGs | user | page | panel | Airflow /home | ratio |\n|---|---|---|---|---|---|")
    print("\n".join(page_lines))
    print("\nEXPLAIN ANALYZE of the catalog's queries (PostgreSQL):")
    print("\n".join(explain_lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
