"""Benchmark DAG: paused, five chained tasks, so its runs stay queued with five task instances.

The poll benchmark tracks many such runs: a poller that re-read every queued run's task
instances would pay five times the pages of the one-task ``cp_paused``.
"""

import pendulum
from airflow import DAG
from airflow.operators.python import PythonOperator

with DAG(
    dag_id="cp_paused_wide",
    dag_display_name="Paused, five tasks",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["bench"],
) as dag:
    previous = None
    for step in ("extract", "clean", "transform", "check", "load"):
        task = PythonOperator(task_id=step, python_callable=lambda: print("noop"))
        if previous is not None:
            previous >> task
        previous = task
