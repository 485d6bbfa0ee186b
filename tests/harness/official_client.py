"""The official ``apache-airflow-client`` from PyPI, each version in a venv of its own.

Its pins (urllib3, pydantic, python-dateutil) are not the panel's, so it lives next to the
harness Airflows under ``~/.cache/airflow-control-panel/``, installed once and reused (CI
keeps that cache). Tests drive it through ``tests/harness/airflow_client_script.py`` in a
subprocess: one JSON request in, one JSON answer out.

``python -m tests.harness.official_client install`` warms the cache.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.harness.airflow import CACHE_ROOT, HarnessError

CLIENT2_VERSION = "2.10.0"  # speaks /api/v1 (Airflow 2)
CLIENT3_VERSION = "3.1.8"  # speaks /api/v2 (Airflow 3)
SCRIPT = Path(__file__).with_name("airflow_client_script.py")


def ensure_client_venv(version: str) -> Path:
    """A venv with ``apache-airflow-client==version``, installed once (file-locked)."""
    venv = CACHE_ROOT / f"airflow-client-{version}"
    marker = venv / ".installed"
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return venv
        started = time.monotonic()
        print(f"[airflow harness] installing apache-airflow-client=={version}", file=sys.stderr)
        for cmd in (
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [
                str(venv / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"apache-airflow-client=={version}",
            ],
        ):
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise HarnessError(f"Could not install the Airflow client: {done.stderr[-2000:]}")
        marker.write_text(f"{version}\n")
        print(f"[airflow harness] installed in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return venv


def run_client(version: str, request: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
    """Run one scenario of the client script with ``request``; its JSON answer."""
    python = ensure_client_venv(version) / "bin" / "python"
    done = subprocess.run(
        [str(python), "-I", str(SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"the client script failed:\n{done.stderr[-4000:]}")
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m tests.harness.official_client install")
    for wanted in (CLIENT2_VERSION, CLIENT3_VERSION):
        print(ensure_client_venv(wanted))
