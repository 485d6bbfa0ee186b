"""Test DAG: params of every JSON-schema type the panel's trigger form must handle."""

import pendulum
from airflow import DAG
from airflow.models.param import Param
from airflow.operators.python import PythonOperator


def _show(**context):
    for name, value in sorted(context["params"].items()):
        print(f"param {name} = {value!r}")


with DAG(
    dag_id="cp_params_showcase",
    dag_display_name="Params showcase",
    description="Every kind of param a trigger form must render",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["forms", "showcase"],
    params={
        "customer": Param(
            "acme",
            type="string",
            title="Customer code",
            description="Lower-case customer code",
            minLength=2,
            maxLength=30,
            pattern="^[a-z0-9_]+$",
            section="Who",
        ),
        "run_date": Param(
            "2024-01-31", type="string", format="date", title="Run date", section="When"
        ),
        "run_at": Param(
            "2024-01-31T12:00:00+00:00", type="string", format="date-time", section="When"
        ),
        "cutoff_time": Param("06:00:00", type="string", format="time", section="When"),
        "region": Param(
            "eu",
            type="string",
            enum=["eu", "us", "apac"],
            values_display={"eu": "Europe", "us": "United States", "apac": "Asia-Pacific"},
            title="Region",
        ),
        "dry_run": Param(False, type="boolean", title="Dry run"),
        "batch_size": Param(100, type="integer", minimum=1, maximum=1000),
        "threshold": Param(0.5, type="number", minimum=0, maximum=1),
        "channels": Param(
            ["email"],
            type="array",
            items={"type": "string", "enum": ["email", "sms", "slack"]},
            examples=["email", "sms", "slack"],
        ),
        "tables": Param(["orders", "customers"], type="array"),
        "options": Param({"retries": 2}, type="object"),
        "comment": Param(
            None, type=["null", "string"], description_md="An optional **comment** for the run log"
        ),
        "schema_version": Param(2, type="integer", const=2),
        "legacy_limit": Param(7),
    },
) as dag:
    PythonOperator(task_id="show_params", python_callable=_show)
