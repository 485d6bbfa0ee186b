"""Schemathesis against ``/api/schema/``: generated requests never get a 5xx.

Bounded to stay quick: every GET plus the trigger and token POSTs, 20 examples each, as
the *operator* persona with the prod profile pointing at the real harness Airflow (where
the world's DAGs do not exist, so no generated request can start a run).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from schemathesis.core.result import Ok

from tests.api.conftest import ApiWorld
from tests.harness.airflow import AirflowInstance

pytestmark = pytest.mark.airflow

FUZZED_POSTS = {"/api/dags/{profile}/{dag_id}/runs/", "/api/tokens/"}


@pytest.fixture
def keep_db_connection() -> Iterator[None]:
    """Like Django's test Client: a WSGI request must not close the test's transaction."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def fuzz_world(api_world: ApiWorld, airflow: AirflowInstance) -> ApiWorld:
    prod = api_world.world.prod
    prod.base_url = airflow.url
    prod.username = "admin"
    prod.set_secret(airflow.password("admin"))
    prod.save()
    return api_world


def test_generated_requests_never_get_a_server_error(
    fuzz_world: ApiWorld, keep_db_connection: None
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    headers = {"Authorization": f"Bearer {fuzz_world.tokens['operator']}"}
    server_errors: list[str] = []
    statuses: Counter[int] = Counter()
    checked = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation of the schema loads
        operation = result.ok()
        if operation.method.upper() != "GET" and operation.path not in FUZZED_POSTS:
            continue
        checked += 1

        @given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=20,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            response = case.call(headers=headers)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:200]}"
                )

        exercise()
    assert checked >= 15
    assert statuses[200] > 0 and sum(statuses.values()) > 5 * checked, statuses
    assert server_errors == []
