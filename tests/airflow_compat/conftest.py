"""A live panel in front of the real harness Airflow, for the Airflow-compatible API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import requests

from controlpanel.audit import Actor
from controlpanel.models import AirflowProfile
from controlpanel.services import catalog, tokens
from tests.factories import GrantFactory, MembershipFactory, TeamFactory, UserFactory
from tests.harness.airflow import AirflowInstance, major_version
from tests.helpers.profiles import harness_profile


@dataclass
class Panel:
    """A live panel with a harness profile, a team member who may trigger ``cp_quick`` and
    ``cp_params_showcase`` (and view ``cp_etl``), and two tokens of theirs."""

    url: str
    profile: AirflowProfile
    user: Any
    token: str
    readonly_token: str
    major: int

    @property
    def api(self) -> str:
        return "v1" if self.major == 2 else "v2"

    def base(self) -> str:
        return f"{self.url}/airflow/{self.profile.slug}/api/{self.api}"

    def session(self, token: str | None = None) -> requests.Session:
        """A requests session authenticated as Airflow clients of ``major`` do it."""
        session = requests.Session()
        token = token or self.token
        if self.major == 2:
            session.auth = (self.user.username, token)
        else:
            session.headers["Authorization"] = f"Bearer {token}"
        return session


@pytest.fixture
def panel(live_server: Any, airflow_any: AirflowInstance) -> Panel:
    profile = harness_profile(airflow_any, slug="harness")
    catalog.refresh_catalog(profile)
    user = UserFactory.create(username="member")
    team = TeamFactory.create(slug="quick-team")
    MembershipFactory.create(team=team, user=user)
    GrantFactory.create(
        team=team, profile=profile, dag_patterns=["cp_quick", "cp_params_showcase"], level="trigger"
    )
    GrantFactory.create(team=team, profile=profile, dag_patterns=["cp_etl"], level="view")
    _, token = tokens.create_token(Actor(user=user), user, "ci")
    _, readonly = tokens.create_token(Actor(user=user), user, "reader", read_only=True)
    major = major_version(airflow_any.version)
    return Panel(live_server.url, profile, user, token, readonly, major)
