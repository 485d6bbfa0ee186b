"""Start a real Apache Airflow (2.x or 3.x) on loopback, for tests, benchmarks and the demo.

Airflow is installed from PyPI into its own virtual environment (its pins would fight
Django's), cached under ``~/.cache/airflow-control-panel/`` and keyed by version and the
pinned constraints, so only the first run pays for the install. Each instance gets its own
``AIRFLOW_HOME``, free ports, the suite's test DAGs and one user per Airflow role.

Usable without pytest: ``python -m tests.harness.airflow serve --home DIR [--version 3.1.8]``
runs one in the foreground until Ctrl-C.

Airflow 2 runs ``webserver`` + ``scheduler`` with FAB users; Airflow 3 runs ``api-server`` +
``scheduler`` + ``dag-processor`` with the simple auth manager, whose users get the same
names and passwords so a test reads the same on both.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path

HARNESS_DIR = Path(__file__).resolve().parent
DAGS_SOURCE = HARNESS_DIR / "dags"
PANEL_CONSTRAINTS = HARNESS_DIR.parents[1] / "requirements" / "constraints.txt"
AIRFLOW_VERSION = os.environ.get("TEST_AIRFLOW_VERSION", "2.11.0")
AIRFLOW3_VERSION = os.environ.get("TEST_AIRFLOW3_VERSION", "3.1.8")
CACHE_ROOT = Path(
    os.environ.get("AIRFLOW_HARNESS_CACHE", Path.home() / ".cache" / "airflow-control-panel")
)
READY_TIMEOUT = float(os.environ.get("AIRFLOW_HARNESS_READY_TIMEOUT", "180"))

# One user per Airflow role the panel must cope with: name -> (password, role).
USERS: dict[str, tuple[str, str]] = {
    "admin": ("admin-pass", "Admin"),
    "operator": ("operator-pass", "User"),
    "viewer": ("viewer-pass", "Viewer"),
}
# The simple auth manager of Airflow 3 knows the roles viewer, user, op and admin.
SIMPLE_AUTH_ROLES = {"Admin": "admin", "User": "op", "Viewer": "viewer"}
TEST_DAG_IDS = (
    "cp_etl",
    "cp_mapped",
    "cp_params_showcase",
    "cp_paused",
    "cp_paused_wide",
    "cp_quick",
)
# Airflow's own showcase of trigger-form params, copied at start from the installed package
# (never vendored: each version brings its own), so the panel's form meets real outside DAGs.
EXAMPLE_DAG_IDS = ("example_params_ui_tutorial", "example_params_trigger_ui")


class HarnessError(RuntimeError):
    """Airflow could not be installed or started; the message says where to look."""


def constraints_file(version: str = AIRFLOW_VERSION) -> Path:
    """The pinned constraints the Airflow venv is installed with (reproducible installs)."""
    return HARNESS_DIR / f"airflow-{version}-constraints.txt"


def ensure_airflow_venv(version: str = AIRFLOW_VERSION) -> Path:
    """The path of a virtualenv with ``apache-airflow==version``, installing it once.

    A file lock makes concurrent callers (CI steps, xdist workers) wait for one install.
    """
    constraints = constraints_file(version)
    digest = hashlib.sha256(constraints.read_bytes()).hexdigest()[:12]
    venv = CACHE_ROOT / f"airflow-{version}-{digest}"
    marker = venv / ".installed"
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        started = time.monotonic()
        print(
            f"[airflow harness] installing apache-airflow=={version} into {venv}", file=sys.stderr
        )
        _run([sys.executable, "-m", "venv", str(venv)], "create the Airflow venv")
        _install_airflow(venv, version, constraints)
        marker.write_text(f"{version}\n")
        print(f"[airflow harness] installed in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return venv


def _install_airflow(venv: Path, version: str, constraints: Path) -> None:
    """Install Airflow into ``venv`` with uv (the panel's pinned release), else with pip.

    uv fetches Airflow's ~200 packages in parallel and compiles no bytecode up front: on the
    2-core machines a first install takes seconds instead of over a minute.
    """
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    # psycopg2 for a PostgreSQL metadata database (start_airflow's postgres_url), where the
    # version's constraints pin it.
    extras = ["psycopg2-binary"] if "psycopg2-binary==" in constraints.read_text() else []
    airflow = [f"apache-airflow=={version}", *extras, "-c", str(constraints)]
    try:
        _run([*pip, "-c", str(PANEL_CONSTRAINTS), "uv"], "install uv")
        _run(
            [
                str(venv / "bin" / "uv"),
                "pip",
                "install",
                "--quiet",
                "--python",
                str(venv / "bin" / "python"),
                *airflow,
            ],
            "install Airflow with uv",
        )
    except HarnessError as exc:
        print(f"[airflow harness] {exc}\n[airflow harness] installing with pip", file=sys.stderr)
        _run([*pip, *airflow], "install Airflow")


def _run(
    cmd: list[str], what: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise HarnessError(
            f"could not {what}: {' '.join(cmd)} exited {result.returncode}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def major_version(version: str) -> int:
    """2 for "2.11.0", 3 for "3.1.8"."""
    return int(version.split(".", 1)[0])


@dataclass
class AirflowInstance:
    """A running Airflow webserver (or API server) and scheduler, and how to reach them."""

    url: str
    home: Path
    venv: Path | None = None
    version: str = AIRFLOW_VERSION
    users: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(USERS))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # The PostgreSQL metadata database made for this instance, dropped by stop().
    database: PostgresDatabase | None = None

    @property
    def api_version(self) -> str:
        """The REST API the instance serves: "v1" for Airflow 2, "v2" for Airflow 3."""
        return "v2" if major_version(self.version) >= 3 else "v1"

    def password(self, username: str) -> str:
        """The password of one of the harness users."""
        return self.users[username][0]

    def stop(self) -> None:
        """Stop webserver and scheduler, whole process groups (gunicorn and task runners)."""
        for proc in self.processes:
            _kill_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.processes:
            _kill_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.processes.clear()
        if self.database is not None:
            with contextlib.suppress(HarnessError):
                self.database.drop()
            self.database = None

    def is_running(self) -> bool:
        """True while every process of the instance is alive."""
        return bool(self.processes) and all(p.poll() is None for p in self.processes)


@dataclass
class PostgresDatabase:
    """A throwaway PostgreSQL database for one instance's metadata, made and dropped with
    the Airflow venv's psycopg2 (the harness itself needs only the standard library)."""

    server_url: str  # postgresql://user[:password]@host:port, no database
    name: str
    venv: Path

    @property
    def sqlalchemy_url(self) -> str:
        server = self.server_url.replace("postgresql://", "postgresql+psycopg2://", 1)
        return f"{server}/{self.name}"

    def _admin(self, statements: list[str]) -> None:
        script = (
            "import sys, psycopg2\n"
            "conn = psycopg2.connect(sys.argv[1] + '/postgres', connect_timeout=5)\n"
            "conn.autocommit = True\n"
            "for statement in sys.argv[2:]:\n"
            "    conn.cursor().execute(statement)\n"
        )
        _run(
            [str(self.venv / "bin" / "python"), "-c", script, self.server_url, *statements],
            f"prepare the PostgreSQL database {self.name}",
        )

    def create(self) -> None:
        self._admin([f'DROP DATABASE IF EXISTS "{self.name}"', f'CREATE DATABASE "{self.name}"'])

    def drop(self) -> None:
        self._admin([f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'])


def _kill_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def airflow_env(
    home: Path, venv: Path, web_port: int, version: str = AIRFLOW_VERSION
) -> dict[str, str]:
    """The environment of every Airflow process of one instance (see AIRFLOW.md).

    Airflow 2's API takes basic auth and the cookie of a session logged in through the web
    login (the panel logs in once and sends the cookie: no password check per request).
    Airflow 2.3+ adds the session backend to a custom ``auth_backends`` by itself anyway
    (the UI needs it), so an Airflow 2.11 cannot be set to refuse session cookies.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTOR="SequentialExecutor",
        AIRFLOW__API__AUTH_BACKENDS=(
            "airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session"
        ),
        AIRFLOW__WEBSERVER__SECRET_KEY=hashlib.sha256(str(home).encode()).hexdigest(),
        AIRFLOW__WEBSERVER__WEB_SERVER_PORT=str(web_port),
        AIRFLOW__WEBSERVER__BASE_URL=f"http://127.0.0.1:{web_port}",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL="5",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
        AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL="5",
        AIRFLOW__CORE__LAZY_LOAD_PLUGINS="True",
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if major_version(version) >= 3:
        env.update(_airflow3_env(home, web_port))
    else:
        env["AIRFLOW__WEBSERVER__CONFIG_FILE"] = str(home / "webserver_config.py")
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    return env


def _airflow3_env(home: Path, web_port: int) -> dict[str, str]:
    """What Airflow 3 needs on top: simple auth users, one JWT secret, the execution API."""
    secret = hashlib.sha256(f"jwt:{home}".encode()).hexdigest()
    return {
        # 3.x renamed SequentialExecutor away; LocalExecutor accepts SQLite there.
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{name}:{SIMPLE_AUTH_ROLES[role]}" for name, (_pw, role) in USERS.items()
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{web_port}",
        "AIRFLOW__API__PORT": str(web_port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": secret,
        # Every process signs and checks task tokens: one secret for all of them.
        "AIRFLOW__API_AUTH__JWT_SECRET": secret,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{web_port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    }


_INIT_SCRIPT = """
import json, sys
from airflow.cli import cli_parser
users = json.loads(sys.argv[1])
parser = cli_parser.get_parser()
commands = [["db", "migrate"], ["sync-perm"]]
for name, (password, role) in users.items():
    commands.append(["users", "create", "-u", name, "-p", password, "-r", role,
                     "-f", name, "-l", "Harness", "-e", name + "@example.invalid"])
commands.append(["dags", "reserialize"])
for argv in commands:
    args = parser.parse_args(argv)
    args.func(args)
"""


_INIT_SCRIPT_3 = """
from airflow.cli import cli_parser
parser = cli_parser.get_parser()
for argv in (["db", "migrate"], ["dags", "reserialize"]):
    args = parser.parse_args(argv)
    args.func(args)
"""


def start_airflow(
    home: Path,
    *,
    version: str = AIRFLOW_VERSION,
    port: int | None = None,
    dags_source: Path = DAGS_SOURCE,
    host: str = "127.0.0.1",
    postgres_url: str | None = None,
) -> AirflowInstance:
    """Install (cached), initialise and start an Airflow in ``home``; wait until it is ready.

    ``host`` is the address the web server listens on: loopback unless a container must
    reach it (``0.0.0.0`` in docker-compose's demo service). ``postgres_url``
    (``postgresql://user@host:port``, Airflow 2 only) keeps the metadata in a new database
    on that server, so the LocalExecutor can run tasks: it forks them from the scheduler
    where the SequentialExecutor starts a new interpreter per task (seconds each).
    """
    venv = ensure_airflow_venv(version)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        dags_source, home / "dags", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    copy_example_dags(venv, home / "dags")
    # Left by an earlier run of this home (a restarted container reuses low PIDs, and Airflow
    # refuses to start while its pid file names a live process).
    for stale_pid_file in home.glob("airflow-*.pid"):
        stale_pid_file.unlink()
    port = port or free_port()
    env = airflow_env(home, venv, port, version)
    database = None
    if postgres_url and major_version(version) < 3:
        database = PostgresDatabase(
            postgres_url.rstrip("/"), f"airflow_harness_{os.getpid()}_{port}", venv
        )
        database.create()
        env.update(
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=database.sqlalchemy_url,
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4",
        )
    initialise = _initialise_airflow3 if major_version(version) >= 3 else _initialise_airflow2
    if major_version(version) >= 3:
        env["AIRFLOW__API__HOST"] = host
    instance = AirflowInstance(
        url=f"http://127.0.0.1:{port}", home=home, venv=venv, version=version, database=database
    )
    try:
        commands = initialise(home, venv, env, port, host)
        for log_name, cmd in commands.items():
            instance.processes.append(_spawn(cmd, env, home / log_name))
        wait_until_ready(instance)
    except BaseException:
        instance.stop()
        raise
    return instance


def example_dags_dir(venv: Path) -> Path:
    """``airflow/example_dags`` inside the Airflow package installed in ``venv``."""
    found = sorted(venv.glob("lib/python*/site-packages/airflow/example_dags"))
    if not found:
        raise HarnessError(f"no airflow/example_dags in {venv}")
    return found[0]


def copy_example_dags(venv: Path, dags_folder: Path) -> None:
    """Copy Airflow's own params example DAGs (``EXAMPLE_DAG_IDS``) into ``dags_folder``."""
    source = example_dags_dir(venv)
    for dag_id in EXAMPLE_DAG_IDS:
        shutil.copyfile(source / f"{dag_id}.py", dags_folder / f"{dag_id}.py")


# Airflow 2's default web UI settings, except that logins are not rate limited (FAB's
# default: 5 per 40 s and address): every test's panel client logs in once from loopback.
WEBSERVER_CONFIG = """from flask_appbuilder.const import AUTH_DB

WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None
AUTH_TYPE = AUTH_DB
AUTH_RATE_LIMITED = False
"""


def _initialise_airflow2(
    home: Path, venv: Path, env: dict[str, str], port: int, host: str
) -> dict[str, list[str]]:
    """Metadatabase, roles, the FAB users and the DAGs; then log name -> command to run."""
    (home / "webserver_config.py").write_text(WEBSERVER_CONFIG)
    _run(
        [str(venv / "bin" / "python"), "-c", _INIT_SCRIPT, json.dumps(USERS)],
        "initialise Airflow (db migrate, sync-perm, users, reserialize)",
        env=env,
        cwd=home,
    )
    airflow = str(venv / "bin" / "airflow")
    return {
        "webserver.log": [airflow, "webserver", "-p", str(port), "-H", host, "-w", "1"],
        "scheduler.log": [airflow, "scheduler"],
    }


def _initialise_airflow3(
    home: Path, venv: Path, env: dict[str, str], port: int, host: str
) -> dict[str, list[str]]:
    """Metadatabase, the simple auth manager's passwords and the DAGs; then the commands.

    Airflow 3 parses DAGs in its own ``dag-processor``; no triggerer: no test DAG defers.
    """
    passwords = {name: password for name, (password, _role) in USERS.items()}
    (home / "passwords.json").write_text(json.dumps(passwords))
    _run(
        [str(venv / "bin" / "python"), "-c", _INIT_SCRIPT_3],
        "initialise Airflow (db migrate, reserialize)",
        env=env,
        cwd=home,
    )
    airflow = str(venv / "bin" / "airflow")
    return {
        "api-server.log": [airflow, "api-server", "-p", str(port), "-H", host, "-w", "1"],
        "scheduler.log": [airflow, "scheduler"],
        "dag-processor.log": [airflow, "dag-processor"],
    }


def _spawn(cmd: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start one Airflow process in its own process group, output to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            cmd,
            env=env,
            cwd=log_path.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_ready(instance: AirflowInstance, timeout: float = READY_TIMEOUT) -> None:
    """Wait until health says the scheduler is up and every test DAG is listed."""
    deadline = time.monotonic() + timeout
    last_problem = "nothing answered yet"
    while time.monotonic() < deadline:
        if instance.processes and not instance.is_running():
            break
        api = f"/api/{instance.api_version}"
        health_path = f"{api}/monitor/health" if instance.api_version == "v2" else f"{api}/health"
        try:
            health = _get_json(instance, health_path)
            if health.get("scheduler", {}).get("status") != "healthy":
                last_problem = f"scheduler not healthy yet: {health}"
            else:
                dags = _get_json(instance, f"{api}/dags?limit=100", user="admin")
                listed = {d["dag_id"] for d in dags.get("dags", [])}
                missing = set(TEST_DAG_IDS + EXAMPLE_DAG_IDS) - listed
                if not missing:
                    return
                last_problem = f"DAGs not listed yet: {sorted(missing)}"
        except (OSError, ValueError) as exc:
            last_problem = str(exc)
        time.sleep(1)
    logs = "\n".join(
        f"--- {name} (tail) ---\n{_tail(instance.home / name)}"
        for name in ("webserver.log", "api-server.log", "scheduler.log", "dag-processor.log")
        if (instance.home / name).exists()
    )
    raise HarnessError(f"Airflow at {instance.url} did not become ready: {last_problem}\n{logs}")


def _get_json(instance: AirflowInstance, path: str, user: str | None = None) -> dict:
    request = urllib.request.Request(instance.url + path)  # noqa: S310 (our loopback URL)
    if user and instance.api_version == "v2":
        request.add_header("Authorization", f"Bearer {airflow3_token(instance, user)}")
    elif user:
        token = b64encode(f"{user}:{instance.password(user)}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())


def airflow3_token(instance: AirflowInstance, user: str) -> str:
    """An Airflow 3 API token for one of the harness users (``POST /auth/token``)."""
    body = json.dumps({"username": user, "password": instance.password(user)}).encode()
    request = urllib.request.Request(  # noqa: S310 (our loopback URL)
        instance.url + "/auth/token",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        return str(json.loads(response.read())["access_token"])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m tests.harness.airflow`` (docker-compose uses it too)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start Airflow and keep it running until Ctrl-C")
    serve.add_argument("--home", type=Path, required=True)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--version", default=AIRFLOW_VERSION, help="e.g. 2.11.0 or 3.1.8")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)"
    )
    serve.add_argument(
        "--postgres-url",
        default=None,
        help="Airflow 2: metadata in a new database on this server "
        "(postgresql://user@host:port), run by the LocalExecutor",
    )
    install = sub.add_parser("install", help="install the cached Airflow venv and print its path")
    install.add_argument("--version", default=AIRFLOW_VERSION)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``serve``: run one instance in the foreground; ``install``: only warm the cache."""
    args = build_parser().parse_args(argv)
    if args.command == "install":
        print(ensure_airflow_venv(args.version))
        return 0
    instance = start_airflow(
        args.home.resolve(),
        version=args.version,
        port=args.port,
        host=args.host,
        postgres_url=args.postgres_url,
    )
    print(
        json.dumps(
            {
                "url": instance.url,
                "version": instance.version,
                "api_version": instance.api_version,
                "home": str(instance.home),
                "users": {u: p for u, (p, _r) in instance.users.items()},
            }
        ),
        flush=True,
    )
    stop = {"now": False}

    def _stop(*_args: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stop["now"] and instance.is_running():
            time.sleep(1)
    finally:
        instance.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
