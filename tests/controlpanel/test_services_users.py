"""User services that the account pages call: changing one's own password."""

from __future__ import annotations

import pytest

from controlpanel.audit import Actor
from controlpanel.models import AuditEvent
from controlpanel.services import users
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_changing_ones_password_saves_it_and_records_the_change_without_it() -> None:
    user = UserFactory.create(username="carol")
    users.change_own_password(Actor(user=user), user, "a-new-Secret-123")
    user.refresh_from_db()
    assert user.check_password("a-new-Secret-123")
    [event] = AuditEvent.objects.filter(action="auth.password_change")
    assert (event.outcome, event.actor, event.payload) == ("succeeded", user, {})
    assert "a-new-Secret-123" not in str(event.payload)


def test_a_wrong_current_password_is_recorded_as_failed() -> None:
    user = UserFactory.create(username="carol")
    users.record_wrong_current_password(Actor(user=user))
    [event] = AuditEvent.objects.filter(action="auth.password_change")
    assert (event.outcome, event.message) == ("failed", "The current password was wrong.")
