"""Airflow's own example DAG files, as installed by the harness, and their params as written."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.harness.airflow import ensure_airflow_venv, example_dags_dir


def example_file(version: str, dag_id: str) -> Path:
    return example_dags_dir(ensure_airflow_venv(version)) / f"{dag_id}.py"


def keys_as_written(path: Path) -> list[str]:
    """The params' keys as a reader sees them: the first ``params={...}`` dict literal."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "params":
            assert isinstance(node.value, ast.Dict)
            return [
                k.value
                for k in node.value.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            ]
    raise AssertionError(f"no params= in {path}")
