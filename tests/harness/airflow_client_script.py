"""Runs inside the ``apache-airflow-client`` venv (2.x or 3.x): one scenario, JSON in and out.

Reads ``{"host", "major", "username", "token", "readonly_token", "dag_id", "unseen_dag_id",
"conf", "bad_conf", "run_id"}`` on stdin and prints what each official client call
answered: values, or the HTTP status of the ``ApiException`` it raised. No panel code here:
only the client, as a team's own script would use it.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import airflow_client.client as af  # type: ignore[import-not-found]


def status_of(call: Any) -> int:
    """The HTTP status the client's exception carries (200 when the call succeeded)."""
    try:
        call()
    except af.ApiException as exc:
        return int(exc.status)
    return 200


def client_v1(req: dict[str, Any], token: str) -> Any:
    conf = af.Configuration(host=req["host"] + "/api/v1", username=req["username"], password=token)
    return af.ApiClient(conf)


def scenario_v1(req: dict[str, Any]) -> dict[str, Any]:
    from airflow_client.client.api import (  # type: ignore[import-not-found]
        dag_api,
        dag_run_api,
        task_instance_api,
    )
    from airflow_client.client.model.dag_run import DAGRun  # type: ignore[import-not-found]

    api = client_v1(req, req["token"])
    dags, runs = dag_api.DAGApi(api), dag_run_api.DAGRunApi(api)
    tis = task_instance_api.TaskInstanceApi(api)
    out: dict[str, Any] = {"dag_ids": sorted(d.dag_id for d in dags.get_dags().dags)}
    details = dags.get_dag_details(req["dag_id"])
    out["param_names"] = sorted(details.params or {})
    out["unseen"] = status_of(lambda: dags.get_dag(req["unseen_dag_id"]))
    run = runs.post_dag_run(req["dag_id"], DAGRun(dag_run_id=req["run_id"], conf=req["conf"]))
    out["triggered"] = {"id": run.dag_run_id, "conf": run.conf}
    out["invalid_conf"] = status_of(
        lambda: runs.post_dag_run(req["dag_id"], DAGRun(conf=req["bad_conf"]))
    )
    out["duplicate"] = status_of(
        lambda: runs.post_dag_run(req["dag_id"], DAGRun(dag_run_id=req["run_id"], conf={}))
    )
    readonly = dag_run_api.DAGRunApi(client_v1(req, req["readonly_token"]))
    out["readonly_trigger"] = status_of(lambda: readonly.post_dag_run(req["dag_id"], DAGRun()))
    out["run_state"] = wait(lambda: runs.get_dag_run(req["dag_id"], req["run_id"]).state.value)
    found = tis.get_task_instances(req["dag_id"], req["run_id"]).task_instances
    out["task_ids"] = sorted(ti.task_id for ti in found)
    out["log"] = str(
        tis.get_log(req["dag_id"], req["run_id"], out["task_ids"][0], 1, full_content=True).content
    )
    return out


def scenario_v2(req: dict[str, Any]) -> dict[str, Any]:
    def client(token: str) -> Any:
        return af.ApiClient(af.Configuration(host=req["host"], access_token=token))

    api = client(req["token"])
    dags, runs, tis = af.DAGApi(api), af.DagRunApi(api), af.TaskInstanceApi(api)
    out: dict[str, Any] = {"dag_ids": sorted(d.dag_id for d in dags.get_dags().dags)}
    out["param_names"] = sorted(dags.get_dag_details(req["dag_id"]).params or {})
    out["unseen"] = status_of(lambda: dags.get_dag(req["unseen_dag_id"]))

    def body(**fields: Any) -> Any:
        return af.TriggerDAGRunPostBody(logical_date=None, **fields)

    run = runs.trigger_dag_run(req["dag_id"], body(dag_run_id=req["run_id"], conf=req["conf"]))
    out["triggered"] = {"id": run.dag_run_id, "conf": run.conf}
    out["invalid_conf"] = status_of(
        lambda: runs.trigger_dag_run(req["dag_id"], body(conf=req["bad_conf"]))
    )
    out["duplicate"] = status_of(
        lambda: runs.trigger_dag_run(req["dag_id"], body(dag_run_id=req["run_id"], conf={}))
    )
    readonly = af.DagRunApi(client(req["readonly_token"]))
    out["readonly_trigger"] = status_of(lambda: readonly.trigger_dag_run(req["dag_id"], body()))
    out["run_state"] = wait(lambda: str(runs.get_dag_run(req["dag_id"], req["run_id"]).state.value))
    found = tis.get_task_instances(req["dag_id"], req["run_id"]).task_instances
    out["task_ids"] = sorted(ti.task_id for ti in found)
    log = tis.get_log(req["dag_id"], req["run_id"], out["task_ids"][0], 1, full_content=True)
    out["log"] = "\n".join(str(line) for line in log.content)
    return out


def wait(read_state: Any, timeout: float = 180) -> str:
    """The run's state once it finished (or the last one seen at the timeout)."""
    deadline = time.monotonic() + timeout
    state = read_state()
    while state not in ("success", "failed") and time.monotonic() < deadline:
        time.sleep(2)
        state = read_state()
    return str(state)


if __name__ == "__main__":
    request = json.load(sys.stdin)
    answer = scenario_v1(request) if request["major"] == 2 else scenario_v2(request)
    json.dump(answer, sys.stdout)
