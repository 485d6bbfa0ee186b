"""The one shape of an audited action: ``audit.audited`` with ``permissions.require``.

Succeeded is written with the change; denied and failed are written after the change rolled
back, and stay.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from controlpanel.audit import Actor, audited
from controlpanel.models import AuditEvent, Team
from controlpanel.permissions import ActionDenied, require
from dags_api import AirflowUnavailable
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def only_event(action: str) -> AuditEvent:
    [event] = AuditEvent.objects.filter(action=action)
    return event


@pytest.fixture
def actor() -> Actor:
    return Actor(user=UserFactory.create(username="alice"), ip_address="10.0.0.7")


def test_require_raises_a_permission_denied_with_the_message_and_code() -> None:
    require(True, "never raised")
    with pytest.raises(ActionDenied) as err:
        require(False, "Not you.", code="read_only_token")
    assert isinstance(err.value, PermissionDenied)
    assert (err.value.message, err.value.code, str(err.value)) == (
        "Not you.",
        "read_only_token",
        "Not you.",
    )
    assert ActionDenied("Nope.").code == "forbidden"


def test_a_finished_action_is_recorded_as_succeeded_with_what_it_filled_in(actor: Actor) -> None:
    with audited(actor, "team.create", dag_id="d", payload={"slug": "a"}) as event:
        require(True, "unused")
        Team.objects.create(name="A", slug="a")
        event.payload["extra"] = 1
        event.message = "done"
    event_row = only_event("team.create")
    assert Team.objects.filter(slug="a").exists()
    assert (event_row.outcome, event_row.actor_username, event_row.ip_address) == (
        "succeeded",
        "alice",
        "10.0.0.7",
    )
    assert (event_row.payload, event_row.message, event_row.dag_id) == (
        {"slug": "a", "extra": 1},
        "done",
        "d",
    )


@pytest.mark.django_db(transaction=True)
def test_a_denial_rolls_the_change_back_and_its_record_is_committed(actor: Actor) -> None:
    with pytest.raises(ActionDenied), audited(actor, "team.create", payload={"slug": "b"}):
        Team.objects.create(name="B", slug="b")
        require(False, "Only panel administrators may create teams.")
    # transaction=True: nothing wraps the test, so what is read here was committed.
    assert not Team.objects.filter(slug="b").exists()
    event = only_event("team.create")
    assert (event.outcome, event.message, event.payload) == (
        "denied",
        "Only panel administrators may create teams.",
        {"slug": "b"},
    )


def test_a_listed_error_is_recorded_as_failed_with_its_sentence(actor: Actor) -> None:
    with (
        pytest.raises(ValidationError),
        audited(actor, "team.create", failed=(ValidationError,)),
    ):
        Team.objects.create(name="C", slug="c")
        raise ValidationError({"slug": ["Taken."], "name": ["Too short."]})
    assert not Team.objects.filter(slug="c").exists()
    event = only_event("team.create")
    assert (event.outcome, event.message) == ("failed", "Taken. Too short.")


def test_an_airflow_failure_adds_the_error_and_airflows_words_to_the_payload(
    actor: Actor,
) -> None:
    error = AirflowUnavailable("Airflow did not answer.", detail="connect timeout")
    with (
        pytest.raises(AirflowUnavailable),
        audited(
            actor,
            "dag.pause",
            payload={"is_paused": True},
            failed=(AirflowUnavailable,),
            atomic=False,
        ),
    ):
        raise error
    event = only_event("dag.pause")
    assert event.outcome == "failed" and event.message == error.user_message
    assert event.payload == {
        "is_paused": True,
        "error": "AirflowUnavailable",
        "error_detail": "connect timeout",
    }


def test_an_error_it_was_not_told_about_is_not_recorded(actor: Actor) -> None:
    with pytest.raises(KeyError), audited(actor, "team.create"):
        raise KeyError("bug")
    assert not AuditEvent.objects.exists()


def test_a_check_records_only_a_refusal(actor: Actor) -> None:
    with audited(actor, "team.create", check_only=True):
        require(True, "unused")
    assert not AuditEvent.objects.exists()
    with pytest.raises(ActionDenied), audited(actor, "team.create", check_only=True):
        require(False, "No.")
    assert only_event("team.create").outcome == "denied"


def test_not_found_records_a_404_as_denied_in_its_own_words(actor: Actor) -> None:
    with pytest.raises(Http404), audited(actor, "dag.trigger", not_found="Not visible."):
        raise Http404("No such DAG.")
    assert (only_event("dag.trigger").outcome, only_event("dag.trigger").message) == (
        "denied",
        "Not visible.",
    )
    with pytest.raises(Http404), audited(actor, "dag.pause"):
        raise Http404("No such DAG.")
    assert not AuditEvent.objects.filter(action="dag.pause").exists()


def test_a_refusal_passing_through_two_audited_actions_is_recorded_once(actor: Actor) -> None:
    with pytest.raises(ActionDenied), audited(actor, "outer"), audited(actor, "inner"):
        require(False, "No.")
    assert list(AuditEvent.objects.values_list("action", "outcome")) == [("inner", "denied")]


def test_a_failure_an_enclosing_action_was_not_told_about_is_still_recorded(
    actor: Actor,
) -> None:
    with pytest.raises(ValueError), audited(actor, "outer"):
        Team.objects.create(name="D", slug="d")
        with audited(actor, "inner", failed=(ValueError,)):
            raise ValueError("Bad value.")
    assert not Team.objects.filter(slug="d").exists()
    assert list(AuditEvent.objects.values_list("action", "outcome", "message")) == [
        ("inner", "failed", "Bad value.")
    ]
