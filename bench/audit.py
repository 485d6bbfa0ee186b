"""Benchmark: the audit trail at a million events on PostgreSQL (not a timed test).

A fast loader writes 1,000,000 events spread over a year with a valid HMAC chain (each link
computed in Python by the panel's own chain code, rows sent with COPY), then the benchmark
measures, through a gunicorn worker serving the real views: the History page (first page,
keyset pages, one-week date ranges, each filter), the CSV of every event (seconds and the
worker's peak memory), then ``verify_audit`` in full and from a checkpoint, and what writing
one event costs. Each figure is printed next to its target.

    .venv/bin/python bench/audit.py                     # throwaway database, created and dropped
    .venv/bin/python bench/audit.py --database-url postgres://postgres@127.0.0.1:5432/bench \\
        --keep                                          # keep it; a later run reuses the events

Targets (issue 15): date-range pages p95 <= 150 ms at 1M events; the CSV of 1M rows in
< 30 s through gunicorn with flat memory; verify_audit incremental as well as full; one
audit write under 2 ms. Airflow is not involved: the History reads only the panel's database.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import requests
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WORK = Path(tempfile.mkdtemp(prefix="panel-bench-audit-"))
# Fixed, so a database kept with --keep still verifies on the next run (a throwaway key).
BENCH_AUDIT_KEY = "bench-audit-hmac-key-not-a-secret-0123456789"
SPAN_DAYS = 365
ACTIONS = [  # (action, weight): triggers dominate, as on a busy panel
    ("dag.trigger", 50),
    ("auth.login", 15),
    ("run.retry", 6),
    ("run.set_state", 4),
    ("dag.pause", 4),
    ("dag.unpause", 4),
    ("notification.send", 8),
    ("auth.logout", 5),
    ("grant.add", 1),
    ("member.add", 1),
    ("profile.test", 1),
    ("auth.lockout", 1),
]
RUN_ACTIONS = {"dag.trigger", "run.retry", "run.set_state", "notification.send"}
OUTCOMES = [("succeeded", 90), ("denied", 6), ("failed", 4)]
USERS, TEAMS, PROFILES, DAGS = 200, 10, 5, 2000


def parse_args() -> argparse.Namespace:
    """The command line (read before Django starts: it names the database)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", help="a PostgreSQL database (default: a throwaway one)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--events", type=int, default=1_000_000, help="events to load")
    parser.add_argument("--reload", action="store_true", help="load even if events are there")
    parser.add_argument("--samples", type=int, default=20, help="requests per page kind")
    parser.add_argument("--skip-csv", action="store_true", help="leave out the 1M-row CSV")
    parser.add_argument("--only", choices=["pages", "csv", "verify", "write"], action="append")
    return parser.parse_args()


ARGS = parse_args()
THROWAWAY = not ARGS.database_url
DATABASE_URL = ARGS.database_url or (
    f"postgres://postgres@127.0.0.1:5432/panel_bench_audit_{os.getpid()}"
)
ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "controlpanel.settings",
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "DATABASE_URL": DATABASE_URL,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "AUDIT_HMAC_KEYS": BENCH_AUDIT_KEY,
    "AUDIT_CHECKPOINT_DIR": str(WORK / "checkpoints"),
    "STATIC_MANIFEST": "0",
    "SECURE_COOKIES": "0",
    "LOG_LEVEL": "WARNING",
}
os.environ.update(ENVIRONMENT)


def _admin_dsn() -> str:
    parts = urlsplit(DATABASE_URL)
    return parts._replace(path="/postgres").geturl()


def _database_name() -> str:
    return urlsplit(DATABASE_URL).path.lstrip("/")


if THROWAWAY:
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{_database_name()}"')

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group, Permission  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from controlpanel.audit import Actor, record_event  # noqa: E402
from controlpanel.audit_keys import signing_key  # noqa: E402
from controlpanel.models import AUDITORS_GROUP, AuditChainHead, AuditEvent, Team  # noqa: E402
from controlpanel.models.teams import TeamMembership  # noqa: E402

TABLE = AuditEvent._meta.db_table


# --- the fast loader -------------------------------------------------------------------------


class World:
    """The names the loaded events use, so the filters ask for values that exist."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.users = [f"user{n:03d}" for n in range(USERS)]
        self.profiles = [f"airflow-{n}" for n in range(PROFILES)]
        self.dags = [(self.profiles[n % PROFILES], f"dag_{n:04d}") for n in range(DAGS)]
        self.actions = [a for a, _ in ACTIONS]
        self.action_weights = [w for _, w in ACTIONS]
        self.outcomes = [o for o, _ in OUTCOMES]
        self.outcome_weights = [w for _, w in OUTCOMES]


def make_users(world: World) -> dict[str, int]:
    """The acting users, in teams, and their ids (the team filter goes by user)."""
    user_model = get_user_model()
    existing = dict(user_model.objects.values_list("username", "pk"))
    missing = [user_model(username=u) for u in world.users if u not in existing]
    user_model.objects.bulk_create(missing)
    ids = dict(user_model.objects.filter(username__in=world.users).values_list("username", "pk"))
    for n in range(TEAMS):
        team, created = Team.objects.get_or_create(slug=f"team-{n}", defaults={"name": f"Team {n}"})
        if created:
            members = world.users[n * (USERS // TEAMS) : (n + 1) * (USERS // TEAMS)]
            TeamMembership.objects.bulk_create(
                [TeamMembership(team=team, user_id=ids[u]) for u in members]
            )
    return ids


def fake_events(world: World, count: int, user_ids: dict[str, int]) -> Iterator[AuditEvent]:
    """``count`` plausible events a year apart from first to last, oldest first, unsaved."""
    rng = world.rng
    moment = datetime.now(UTC) - timedelta(days=SPAN_DAYS)
    step = SPAN_DAYS * 86400 / count
    for n in range(count):
        moment += timedelta(seconds=rng.expovariate(1 / step))
        action = rng.choices(world.actions, world.action_weights)[0]
        outcome = rng.choices(world.outcomes, world.outcome_weights)[0]
        profile, dag_id = rng.choice(world.dags)
        username = rng.choice(world.users)
        source = rng.choice(["web", "web", "api", "worker"])
        run_id = f"manual__{moment:%Y-%m-%dT%H:%M:%S.%f}" if action in RUN_ACTIONS else ""
        yield AuditEvent(
            created_at=moment,
            actor_id=None if source == "worker" else user_ids[username],
            actor_username="" if source == "worker" else username,
            token_prefix=f"cp_{rng.randrange(16**6):06x}" if source == "api" else "",
            source=source,
            ip_address=None if source == "worker" else f"10.0.{rng.randrange(256)}.{n % 250 + 1}",
            action=action,
            profile_slug=profile if action.startswith(("dag.", "run.", "notif")) else "",
            dag_id=dag_id if action.startswith(("dag.", "run.", "notif")) else "",
            dag_run_id=run_id,
            payload={"conf": {"day": f"{moment:%Y-%m-%d}", "n": rng.randrange(100)}}
            if action == "dag.trigger"
            else {},
            outcome=outcome,
            message="" if outcome == "succeeded" else "Not allowed to do that here.",
            request_id="" if source == "worker" else uuid.UUID(int=rng.getrandbits(128)).hex,
        )


def load_events(count: int) -> None:
    """Empty the trail and write ``count`` chained events with COPY, then the chain head.

    Each link is the panel's own ``compute_hash`` with the signing key, so ``verify_audit``
    must pass afterwards. Columns come from the model, so this loads any version of it.
    """
    world = World(random.Random(15))
    user_ids = make_users(world)
    key = signing_key()
    fields = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLE} RESTART IDENTITY")
        cursor.execute("SET synchronous_commit = off")
    prev = "0" * 64
    started = time.monotonic()
    raw = connection.connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {TABLE} ({columns}) FROM STDIN") as copy:
        for n, event in enumerate(fake_events(world, count, user_ids), start=1):
            event.prev_hash = prev
            event.algorithm = AuditEvent.Algorithm.HMAC_SHA256
            event.key_id = key.key_id
            event.hash = prev = event.compute_hash(key)
            copy.write_row([_copy_value(event, f) for f in fields])
            if n % 100_000 == 0:
                print(f"  loaded {n:,} events ({time.monotonic() - started:.0f} s)", flush=True)
    raw.commit()
    head = {"last_hash": prev, "event_count": count}
    AuditChainHead.objects.update_or_create(pk=1, defaults=head)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {TABLE}")
    print(f"  loaded {count:,} events in {time.monotonic() - started:.0f} s", flush=True)


def _copy_value(event: AuditEvent, field: Any) -> Any:
    value = getattr(event, field.attname)
    if field.attname == "payload":
        return json.dumps(value)
    return value


# --- a gunicorn serving the real views ---------------------------------------------------------


class Server:
    """One gunicorn worker (sync, as the Dockerfile runs it) on a free loopback port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            str(REPO / ".venv" / "bin" / "gunicorn"),
            "controlpanel.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "1",
            # The default 30 s would kill a slow CSV; the figure says whether it fits.
            "--timeout",
            "600",
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(
            command, cwd=REPO, env={**os.environ}, stdout=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer")

    def worker_pid(self) -> int:
        """The one worker's process id (its memory is what the CSV may grow)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return int(children.split()[0])

    def stop(self) -> None:
        """Stop gunicorn and its worker."""
        self.process.terminate()
        self.process.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reviewer_session(base_url: str) -> requests.Session:
    """A browser session of an audit reviewer (signed in through Django's session store)."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username="bench-auditor")
    group, _ = Group.objects.get_or_create(name=AUDITORS_GROUP)
    group.permissions.add(Permission.objects.get(codename="review_audit"))
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    assert session.get(f"{base_url}/audit/", timeout=30).status_code == 200
    return session


# --- measurements ------------------------------------------------------------------------------


def timed_get(session: requests.Session, url: str) -> tuple[float, str]:
    """GET a page in full: milliseconds, and its HTML."""
    started = time.perf_counter()
    response = session.get(url, timeout=120)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (url, response.status_code)
    return elapsed * 1000, response.text


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def line(label: str, values: list[float], target: str, digits: int = 0) -> str:
    """A table row: how many samples, their median and p95, and the target."""
    median, high = statistics.median(values), p95(values)
    return f"| {label} | {len(values)} | {median:.{digits}f} | {high:.{digits}f} | {target} |"


NEXT = re.compile(r'href="\?([^"]*before=\d+)"')


def page_samples(
    session: requests.Session, base: str, queries: list[str]
) -> tuple[list[float], list[float]]:
    """Each query's first page, then the page after it (the keyset link on the first)."""
    first, second = [], []
    for query in queries:
        ms, html = timed_get(session, f"{base}/audit/?{query}")
        first.append(ms)
        found = NEXT.search(html)
        if found:
            older = found.group(1).replace("&amp;", "&")
            second.append(timed_get(session, f"{base}/audit/?{older}")[0])
    return first, second


def bench_pages(server: Server, samples: int) -> list[str]:
    """The History page at 1M events: median and p95 of each kind of page, in ms."""
    session = reviewer_session(server.url)
    rng = random.Random(7)
    world = World(rng)
    newest, oldest = (
        AuditEvent.objects.order_by("-id").values_list("id", "created_at").first(),
        AuditEvent.objects.order_by("id").values_list("id", "created_at").first(),
    )
    assert newest and oldest
    days = (newest[1].date() - oldest[1].date()).days

    def week() -> str:
        start = oldest[1].date() + timedelta(days=rng.randrange(max(days - 6, 1)))
        return f"from={start}&to={start + timedelta(days=6)}"

    runs = list(
        AuditEvent.objects.filter(id__in=[rng.randrange(1, newest[0]) for _ in range(400)])
        .exclude(dag_run_id="")
        .values_list("profile_slug", "dag_id", "dag_run_id")
    )
    kinds: list[tuple[str, Callable[[], str], str]] = [
        ("first page", lambda: "", "(issue: 64-94 median)"),
        ("keyset page (random depth)", lambda: f"before={rng.randrange(1, newest[0])}", ""),
        ("one-week date range", week, "p95 <= 150"),
        ("user", lambda: f"user={rng.choice(world.users)}", ""),
        ("team", lambda: f"team=team-{rng.randrange(TEAMS)}", ""),
        ("action", lambda: f"action={rng.choice(world.actions)}", ""),
        ("profile + DAG", lambda: "profile={}&dag={}".format(*rng.choice(world.dags)), ""),
        ("outcome denied", lambda: "outcome=denied", ""),
        ("run (from a run page)", lambda: "profile={}&dag={}&run={}".format(*rng.choice(runs)), ""),
        ("action + week", lambda: f"action=dag.trigger&{week()}", "p95 <= 150"),
        ("user + week", lambda: f"user={rng.choice(world.users)}&{week()}", "p95 <= 150"),
    ]
    timed_get(session, f"{server.url}/audit/")  # warm the worker
    lines = []
    for label, query, target in kinds:
        first, second = page_samples(session, server.url, [query() for _ in range(samples)])
        lines.append(line(label, first, target))
        print(lines[-1], flush=True)
        if second and label not in ("first page", "keyset page (random depth)"):
            lines.append(line(f"{label}, next page", second, target))
            print(lines[-1], flush=True)
    return lines


def bench_csv(server: Server) -> list[str]:
    """Every event as CSV through gunicorn: seconds, rows, and the worker's memory."""
    session = reviewer_session(server.url)
    pid = server.worker_pid()
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _rss_kib(pid))

    before = _rss_kib(pid)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    rows = size = chunks = 0
    with session.get(f"{server.url}/audit/export.csv", stream=True, timeout=600) as response:
        assert response.status_code == 200
        for chunk in response.iter_content(chunk_size=1 << 16):
            size += len(chunk)
            rows += chunk.count(b"\n")
            chunks += 1
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    events = AuditEvent.objects.count()
    result = (
        f"| CSV of every event | {rows - 1:,} rows ({events:,} events), {size / 1e6:.0f} MB "
        f"| {seconds:.1f} s (target < 30 s) | worker RSS {before / 1024:.0f} MB before, "
        f"peak {peak[0] / 1024:.0f} MB during |"
    )
    print(result, flush=True)
    return [result]


def _rss_kib(pid: int) -> int:
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1])
    return 0


def verify_command(*args: str) -> tuple[float, str]:
    """Run verify_audit in this process: seconds and what it printed (or the error)."""
    from io import StringIO

    from django.core.management.base import CommandError

    out = StringIO()
    started = time.perf_counter()
    try:
        call_command("verify_audit", *args, stdout=out)
    except CommandError as exc:
        return time.perf_counter() - started, f"FAILED: {exc}"
    return time.perf_counter() - started, out.getvalue().strip()


def has_incremental_verification() -> bool:
    from controlpanel.management.commands.verify_audit import Command

    return "--full" in Command().create_parser("manage.py", "verify_audit").format_help()


def bench_verify(new_events: int = 1000) -> list[str]:
    """verify_audit in full, a checkpoint, new events, then from the checkpoint."""
    lines = []
    incremental = has_incremental_verification()
    seconds, said = verify_command("--full") if incremental else verify_command()
    lines.append(f"| verify_audit --full | {seconds:.1f} s | was 53 s | {said[:150]} |")
    print(lines[-1], flush=True)
    started = time.perf_counter()
    call_command("audit_checkpoint", stdout=open(os.devnull, "w"))  # noqa: SIM115
    checkpoint = time.perf_counter() - started
    lines.append(f"| audit_checkpoint (no checkpoint yet: a full check) | {checkpoint:.1f} s | | |")
    print(lines[-1], flush=True)
    write_events(new_events, Actor(username="bench", ip_address="192.0.2.1"))
    if incremental:
        seconds, said = verify_command()
        lines.append(
            f"| verify_audit (from the checkpoint, {new_events} new events) | {seconds:.2f} s "
            f"| incremental | {said[:200]} |"
        )
        started = time.perf_counter()
        call_command("audit_checkpoint", stdout=open(os.devnull, "w"))  # noqa: SIM115
        lines.append(
            f"| audit_checkpoint (the periodic task) | {time.perf_counter() - started:.2f} s | | |"
        )
    else:
        lines.append("| verify_audit from a checkpoint | n/a (full only) | incremental | |")
    print("\n".join(lines[-2:]) if incremental else lines[-1], flush=True)
    return lines


def write_events(count: int, actor: Actor) -> list[float]:
    """Write ``count`` events one by one, each in its own transaction; ms each."""
    times = []
    for n in range(count):
        started = time.perf_counter()
        record_event(
            actor,
            "dag.trigger",
            outcome="succeeded",
            profile="airflow-0",
            dag_id="dag_0000",
            dag_run_id=f"bench__{n}",
            payload={"conf": {"day": "2026-11-29", "n": n}},
        )
        times.append((time.perf_counter() - started) * 1000)
    return times


def bench_writes(count: int = 500, threads: int = 4) -> list[str]:
    """One event's cost alone (its own transaction) and inside an action's transaction."""
    actor = Actor(username="bench", ip_address="192.0.2.1")
    write_events(20, actor)  # warm up
    alone = write_events(count, actor)
    inside = []
    for n in range(count):
        with transaction.atomic():
            started = time.perf_counter()
            record_event(actor, "dag.pause", outcome="succeeded", dag_id=f"d{n}")
            inside.append((time.perf_counter() - started) * 1000)
    lines = [
        line("one event, its own transaction (commit included)", alone, "< 2 ms", 2),
        line("one event inside an action's transaction", inside, "< 2 ms", 2),
        f"| mean of both | {2 * count} | {statistics.mean(alone + inside):.2f} | | was 9.6 ms |",
    ]
    started = time.perf_counter()

    def writer() -> None:
        try:
            write_events(count // threads, actor)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=writer) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    rate = (count // threads) * threads / (time.perf_counter() - started)
    lines.append(f"| {threads} writers at once | {count} | {rate:.0f} events/s | | |")
    print("\n".join(lines), flush=True)
    return lines


def main() -> int:
    only = set(ARGS.only or ["pages", "csv", "verify", "write"])
    if ARGS.skip_csv:
        only.discard("csv")
    try:
        call_command("migrate", verbosity=0)
        present = AuditEvent.objects.count()
        if ARGS.reload or present < ARGS.events:
            print(f"loading {ARGS.events:,} audit events ...", flush=True)
            load_events(ARGS.events)
        else:
            print(f"reusing the {present:,} events in the database", flush=True)
        connection.close()
        print("PostgreSQL, 2-core machine shared with other work: figures are noisy.")
        server = Server()
        try:
            if "pages" in only:
                print("| History page | samples | median ms | p95 ms | target |")
                print("|---|---|---|---|---|")
                bench_pages(server, ARGS.samples)
            if "csv" in only:
                bench_csv(server)
        finally:
            server.stop()
        if "verify" in only:
            bench_verify()
        if "write" in only:
            print("| audit write | samples | median ms | p95 ms | target |")
            print("|---|---|---|---|---|")
            bench_writes()
    finally:
        connections.close_all()
        if THROWAWAY and not ARGS.keep:
            with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{_database_name()}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
