"""Test DAG: one quick task, for runs that should simply succeed."""

import pendulum
from airflow import DAG
from airflow.operators.python import PythonOperator


def _hello(**context):
    print(f"hello {context['params'].get('name', 'world')}")


with DAG(
    dag_id="cp_quick",
    dag_display_name="Quick hello",
    description="One task that says hello",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["demo", "quick"],
    params={"name": "world"},
) as dag:
    PythonOperator(task_id="say_hello", python_callable=_hello)
