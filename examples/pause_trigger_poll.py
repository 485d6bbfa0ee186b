#!/usr/bin/env python3
"""Drive one DAG through the Airflow Control Panel's REST API, using only ``requests``.

Pauses the DAG, unpauses it, triggers a run with a conf (with an Idempotency-Key, so a
retried request never starts a second run), polls the run until it finishes and lists
its failed tasks.

    PANEL_URL=https://panel.example.com PANEL_TOKEN=acp_... \
        python examples/pause_trigger_poll.py --profile prod --dag etl --conf '{"rows": 5}'

Make a token with ``python manage.py create_api_token USERNAME`` (or POST /api/tokens/).
Exit status: 0 the run succeeded, 1 the run failed (its failed tasks are printed),
2 the API refused a request or the run did not finish in time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from typing import Any

import requests

FINISHED = {"success", "failed"}
FAILED_TASK_STATES = {"failed", "upstream_failed"}


class PanelError(Exception):
    """The panel answered with an error: its plain message and status."""


class Panel:
    """A tiny client for the panel's API."""

    def __init__(self, url: str, token: str, timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
                message = body.get("message", response.text)
                if body.get("errors"):
                    message += f" {body['errors']}"
            except ValueError:
                message = response.text[:200]
            raise PanelError(f"{method} {path}: {response.status_code} {message}")
        return response.json()

    def set_paused(self, profile: str, dag_id: str, paused: bool) -> dict[str, Any]:
        return self.call("PATCH", f"/api/dags/{profile}/{dag_id}/", json={"is_paused": paused})

    def trigger(self, profile: str, dag_id: str, conf: dict[str, Any], key: str) -> dict[str, Any]:
        return self.call(
            "POST",
            f"/api/dags/{profile}/{dag_id}/runs/",
            json={"conf": conf, "logical_date": None, "note": "started by pause_trigger_poll.py"},
            headers={"Idempotency-Key": key},
        )

    def run(self, run_id: int) -> dict[str, Any]:
        return self.call("GET", f"/api/runs/{run_id}/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("PANEL_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("PANEL_TOKEN", ""))
    parser.add_argument("--profile", required=True)
    parser.add_argument("--dag", required=True)
    parser.add_argument("--conf", default="{}", help="the run's conf as JSON")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the run")
    parser.add_argument("--interval", type=float, default=2, help="seconds between polls")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("give --token or set PANEL_TOKEN")
    panel = Panel(args.url, args.token)
    try:
        return drive(panel, args)
    except (PanelError, requests.RequestException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def drive(panel: Panel, args: argparse.Namespace) -> int:
    dag = panel.set_paused(args.profile, args.dag, True)
    print(f"paused {dag['dag_id']}: is_paused={dag['is_paused']}")
    dag = panel.set_paused(args.profile, args.dag, False)
    print(f"unpaused {dag['dag_id']}: is_paused={dag['is_paused']}")
    run = panel.trigger(args.profile, args.dag, json.loads(args.conf), key=str(uuid.uuid4()))
    print(f"triggered run {run['id']} ({run['dag_run_id']}): {run['state']}")
    deadline = time.monotonic() + args.timeout
    while run["state"] not in FINISHED:
        if time.monotonic() > deadline:
            print(f"run {run['id']} still {run['state']} after {args.timeout} s", file=sys.stderr)
            return 2
        time.sleep(args.interval)
        run = panel.run(run["id"])
    print(f"run {run['id']} finished: {run['state']}")
    failed = [t for t in run["task_instances"] if t["state"] in FAILED_TASK_STATES]
    for task in failed:
        print(f"failed task: {task['task_id']} (try {task['try_number']}, {task['state']})")
    return 0 if run["state"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
