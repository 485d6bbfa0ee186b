"""Test DAG: paused when created, so its runs stay queued (a cheap load for benchmarks)."""

import pendulum
from airflow import DAG
from airflow.operators.python import PythonOperator

with DAG(
    dag_id="cp_paused",
    dag_display_name="Paused until needed",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["demo", "paused"],
) as dag:
    PythonOperator(task_id="noop", python_callable=lambda: print("noop"))
