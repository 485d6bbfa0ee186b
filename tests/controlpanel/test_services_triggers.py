"""The trigger rule shared by the web form and the API: one conf check, refusals audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from controlpanel.audit import Actor
from controlpanel.models import AuditEvent, Dag, Run
from controlpanel.services import actions, triggers
from tests.world import World

pytestmark = pytest.mark.django_db

PARAMS: dict[str, Any] = {
    "rows": {"schema": {"type": "integer", "minimum": 0}, "default": 1, "description": None},
    "who": {"schema": {"type": "string", "title": "Who"}, "default": None, "description": None},
    "code": {
        "schema": {"type": "string", "pattern": "^[a-z]+$"},
        "default": "abc",
        "description": "Lower-case letters only",
    },
}


@pytest.fixture
def dag(world: World) -> Dag:
    dag = world.dag("prod/finance_daily")
    dag.params = PARAMS
    dag.params_synced_at = datetime.now(UTC)
    dag.save()
    return dag


def test_conf_errors_speak_the_forms_words(dag: Dag) -> None:
    errors = triggers.conf_errors(dag, {"rows": -1, "who": "me", "code": "ABC"})
    assert errors == {
        "rows": ["Enter 0 or more."],
        "code": ["This is not in the expected form. Lower-case letters only"],
    }


def test_a_required_param_without_default_must_be_given(dag: Dag) -> None:
    assert triggers.conf_errors(dag, {}) == {"who": ["This field is required."]}
    assert triggers.conf_errors(dag, {"who": "me"}) == {}
    assert triggers.conf_errors(dag, {"who": "me", "not_a_param": [1]}) == {}


def test_a_refused_conf_is_audited_and_nothing_is_started(dag: Dag, world: World) -> None:
    actor = Actor(user=world.users["operator"], source=AuditEvent.Source.API)
    with pytest.raises(triggers.ConfRefused) as refused:
        actions.trigger(actor, dag, actions.TriggerInput(conf={"rows": "many", "who": "me"}))
    assert refused.value.errors == {"rows": ["The value must be of type integer."]}
    event = AuditEvent.objects.get(action="dag.trigger")
    assert (event.outcome, event.source, event.message) == (
        "failed",
        "api",
        "The conf does not match the DAG's params.",
    )
    assert event.payload["errors"] == refused.value.errors
    assert not Run.objects.exists()
