"""Benchmark: the overview page at 100,000 and 1,000,000 runs on PostgreSQL (not a timed test).

A loader writes runs with one INSERT ... SELECT (generate_series) spread evenly over a year
in the order they were created: 2,000
DAGs on two profiles, mostly succeeded, some failed, a few running or queued; 60 % started
by Airflow's schedule (no panel user), the rest by 200 panel users in 10 teams (a fifth of
them in two teams). At each size it samples ``/overview/`` through the real view with a
logged-in Django client, as a panel admin and as an audit reviewer, prints p50 and p95,
then EXPLAIN ANALYZE of each of the page's queries on the runs.

    .venv/bin/python bench/overview.py                       # 100k and 1M, throwaway database
    .venv/bin/python bench/overview.py --runs 100000 --samples 10
    .venv/bin/python bench/overview.py --without-indexes     # drop the overview's two indexes

Airflow is not involved: the overview reads only the panel's database.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _bench_db import throwaway_database  # noqa: E402

USERS, TEAMS, DAGS, SPAN_DAYS = 200, 10, 2000, 365
OVERVIEW_INDEXES = ("run_created_at", "run_state_created_at")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, action="append", help="run count (repeatable)")
    parser.add_argument("--samples", type=int, default=20, help="samples per user and size")
    parser.add_argument("--database-url", help="default: a throwaway PostgreSQL database")
    parser.add_argument("--without-indexes", action="store_true", help="drop the two indexes")
    return parser.parse_args()


def configure(database_url: str) -> None:
    """The panel's settings for this process, then Django."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="controlpanel.settings",
        DEBUG="0",
        SECRET_KEY="bench-" + secrets.token_urlsafe(32),
        SECURE_COOKIES="0",
        STATIC_MANIFEST="0",
        ALLOWED_HOSTS="testserver",
        DATABASE_URL=database_url,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        AUDIT_HMAC_KEYS=secrets.token_urlsafe(32),
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()


def make_people() -> dict[str, Any]:
    """Profiles, teams, 200 users in them, a panel admin and an audit reviewer (clients)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from controlpanel.models import AirflowProfile, Team, TeamMembership
    from tests.world import make_auditor

    for slug in ("prod", "staging"):
        AirflowProfile.objects.create(
            name=slug.title(), slug=slug, base_url=f"http://{slug}.invalid", username="x"
        )
    User = get_user_model()
    teams = [Team.objects.create(name=f"Team {n}", slug=f"team-{n}") for n in range(TEAMS)]
    users = User.objects.bulk_create(User(username=f"user{n}") for n in range(USERS))
    TeamMembership.objects.bulk_create(
        [TeamMembership(team=teams[n % TEAMS], user=u) for n, u in enumerate(users)]
        + [TeamMembership(team=teams[(n + 1) % TEAMS], user=u) for n, u in enumerate(users[::5])]
    )
    admin = User.objects.create_superuser("bench-admin", password=secrets.token_urlsafe(16))
    auditor = User.objects.create_user("bench-auditor", password=secrets.token_urlsafe(16))
    make_auditor(auditor)
    clients = {}
    for name, user in (("admin", admin), ("auditor", auditor)):
        clients[name] = Client()
        clients[name].force_login(user)
    return clients


LOAD_RUNS = """
INSERT INTO controlpanel_run (profile_id, dag_id, dag_run_id, state, conf, note,
    triggered_by_id, source, created_at, start_date, end_date, updated_at, is_finished,
    missing_polls, stale_reason)
SELECT p.id, 'dag_' || (t.n %% {dags}), 'bench_' || t.n,
    CASE WHEN n %% 50 = 0 THEN 'running' WHEN n %% 97 = 0 THEN 'queued'
         WHEN n %% 9 = 0 THEN 'failed' ELSE 'success' END,
    '{{}}', '',
    CASE WHEN n %% 10 < 6 THEN NULL ELSE (SELECT min(id) FROM auth_user) + (n %% {users}) END,
    CASE WHEN n %% 10 < 6 THEN 'airflow' ELSE 'web' END,
    t.at, t.at, t.at + (t.n %% 600) * interval '1 second', t.at, n %% 50 <> 0, 0, ''
FROM (
    SELECT n, now() - ({span} * 86400.0 * (%s - n) / %s) * interval '1 second' AS at
    FROM generate_series(1, %s) AS n
) AS t
JOIN controlpanel_airflowprofile p ON p.slug = CASE WHEN n %% 4 = 0 THEN 'staging' ELSE 'prod' END
"""


def load_runs(count: int) -> float:
    """``count`` runs instead of the ones there, oldest first, then VACUUM ANALYZE; seconds.

    Written in the order they were created, as the panel writes them (a run's row is
    inserted when it starts), so a day's runs sit together in the table.
    """
    from django.db import connection

    started = time.perf_counter()
    sql = LOAD_RUNS.format(dags=DAGS, users=USERS, span=SPAN_DAYS)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE controlpanel_run CASCADE")
        cursor.execute(sql, [count, count, count])
        cursor.execute("VACUUM ANALYZE controlpanel_run")
    return time.perf_counter() - started


def sample(clients: dict[str, Any], samples: int) -> dict[str, list[float]]:
    """Milliseconds of ``/overview/`` per user, interleaved, after one warm-up each."""
    times: dict[str, list[float]] = {name: [] for name in clients}
    for client in clients.values():
        assert client.get("/overview/").status_code == 200
    for _ in range(samples):
        for name, client in clients.items():
            started = time.perf_counter()
            answer = client.get("/overview/")
            times[name].append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200
    return times


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1)]


def explain(client: Any) -> list[str]:
    """EXPLAIN ANALYZE of the page's queries on the runs: time, top node, index use."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get("/overview/")
    lines = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            if "controlpanel_run" not in query["sql"]:
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
            found = cursor.fetchone()[0]
            plan = (json.loads(found) if isinstance(found, str) else found)[0]
            kinds = {node["Node Type"] for node in nodes(plan["Plan"])}
            scans = sorted(kind for kind in kinds if "Scan" in kind)
            lines.append(
                f"  {plan['Execution Time']:7.1f} ms  {', '.join(scans):45}  {query['sql'][:70]}..."
            )
    return lines


def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A plan node and every node under it."""
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def main() -> int:
    args = parse_args()
    sizes = sorted(args.runs or [100_000, 1_000_000])
    with throwaway_database(args.database_url, "bench_overview") as database_url:
        configure(database_url)
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        if args.without_indexes:
            with connection.cursor() as cursor:
                for name in OVERVIEW_INDEXES:
                    cursor.execute(f"DROP INDEX IF EXISTS {name}")
        clients = make_people()
        table, plans = [], []
        for size in sizes:
            seconds = load_runs(size)
            print(f"{size} runs loaded ({seconds:.0f} s)", flush=True)
            times = sample(clients, args.samples)
            for name, values in times.items():
                table.append(
                    f"| {size:,} | {name} | {statistics.median(values):.0f} ms | "
                    f"{p95(values):.0f} ms |"
                )
                print(table[-1], flush=True)
            plans += [f"{size:,} runs:", *explain(clients["admin"])]
    indexes = "without" if args.without_indexes else "with"
    print(f"\n/overview/ ({args.samples} samples each, {indexes} the overview's indexes):")
    print("| runs | user | p50 | p95 |\n|---|---|---|---|")
    print("\n".join(table))
    print("\nEXPLAIN ANALYZE of the overview's queries on the runs (PostgreSQL):")
    print("\n".join(plans))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
