"""Test DAG: a dynamically mapped task, one task instance per item of conf."""

import pendulum
from airflow import DAG
from airflow.decorators import task
from airflow.models.param import Param

with DAG(
    dag_id="cp_mapped",
    dag_display_name="Mapped processing",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["mapped"],
    params={"items": Param([1, 2, 3], type="array", items={"type": "integer"})},
) as dag:

    @task
    def list_items(**context):
        return list(context["params"]["items"])

    @task
    def process(item):
        print(f"processing {item}")
        return item * 2

    @task
    def total(values):
        print(f"total {sum(values)}")

    total(process.expand(item=list_items()))
