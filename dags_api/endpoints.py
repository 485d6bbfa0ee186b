"""Endpoint templates: which Airflow endpoint a request went to, without its ids.

Client code names the variable path segments (``Id("dag_id", dag_id)``), so the URL gets the
quoted value and an observer gets ``/dags/{dag_id}/dagRuns``: a label with few values,
whatever the number of DAGs and runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple


class Id(NamedTuple):
    """A path segment that is a value (a DAG id, a run id), and the name it has in templates."""

    name: str
    value: str


Segment = str | Id

# Told of every HTTP attempt: (method, endpoint template, HTTP status as text or the network
# failure's reason such as "timeout" or "refused", seconds it took).
CallObserver = Callable[[str, str, str, float], None]

UNKNOWN_ENDPOINT = "other"


def endpoint_template(segments: Iterable[Segment]) -> str:
    """``/dags/{dag_id}/dagRuns`` for the segments ``"dags", Id("dag_id", ...), "dagRuns"``."""
    return "/" + "/".join(
        f"{{{segment.name}}}" if isinstance(segment, Id) else segment for segment in segments
    )
