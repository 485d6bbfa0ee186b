"""Test DAG: extract -> transform -> load; conf chooses a task to fail, always or once."""

import pendulum
from airflow import DAG
from airflow.models.param import Param
from airflow.operators.python import PythonOperator


def _step(step, **context):
    params = context["params"]
    chosen = params["fail_at"] == step
    if chosen and (params["fail_mode"] == "always" or context["ti"].try_number == 1):
        raise RuntimeError(f"Deliberate failure in {step} (requested by conf)")
    print(f"{step} finished for {params['rows']} rows")


with DAG(
    dag_id="cp_etl",
    dag_display_name="ETL with chosen failure",
    description="Three steps; conf fail_at makes one of them fail",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["etl", "finance"],
    params={
        "fail_at": Param("none", type="string", enum=["none", "extract", "transform", "load"]),
        "fail_mode": Param(
            "always",
            type="string",
            enum=["always", "first_try"],
            description="first_try: fail only the first try, so a retry passes",
        ),
        "rows": Param(10, type="integer", minimum=0),
    },
) as dag:
    steps = [
        PythonOperator(task_id=name, python_callable=_step, op_kwargs={"step": name})
        for name in ("extract", "transform", "load")
    ]
    steps[0] >> steps[1] >> steps[2]
