"""Fixtures of the parity tests: Airflow's own trigger form, logged in once per Airflow."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness.airflow import AirflowInstance
from tests.parity.airflow_forms import AirflowFormSession, session_for


@pytest.fixture
def form(browser: Any, airflow_any: AirflowInstance) -> AirflowFormSession:
    """A logged-in session on Airflow's own UI (one login per Airflow for the session),
    in the suite's one headless chromium (``browser`` in tests/conftest.py)."""
    return session_for(browser, airflow_any.url, airflow_any.version)
