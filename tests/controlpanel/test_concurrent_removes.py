"""Two requests removing the same thing at once: one change, one "succeeded" event.

Each request loaded the row before either removed it (as two views would), then both call
the service at the same moment from their own thread and database connection. Run on
PostgreSQL (row locks) and SQLite (writers queue up) alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404

from controlpanel.audit import Actor
from controlpanel.models import ApiToken, AuditEvent, DagGrant, Subscription, TeamMembership
from controlpanel.services import notifications, profiles, teams, tokens
from tests.factories import GrantFactory, MembershipFactory, ProfileFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def race(action: Callable[[], Any]) -> list[str]:
    """Run ``action`` in two threads released together; what each came to, sorted."""
    start = threading.Barrier(2)
    results: list[str] = []

    def one() -> None:
        start.wait()
        try:
            action()
            results.append("done")
        except (Http404, ValidationError) as exc:
            results.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(results)


def outcomes(action: str) -> list[str]:
    """The outcomes recorded for one action, sorted."""
    return sorted(AuditEvent.objects.filter(action=action).values_list("outcome", flat=True))


@pytest.fixture
def admin() -> Actor:
    return Actor(user=UserFactory.create(username="root", is_superuser=True, is_staff=True))


def test_two_removes_of_one_grant_record_one_success(admin: Actor) -> None:
    grant = GrantFactory.create(dag_ids=["etl"])
    assert race(lambda: teams.remove_grant(admin, grant)) == ["Http404", "done"]
    assert not DagGrant.objects.exists()
    assert outcomes("grant.remove") == ["succeeded"]


def test_two_removes_of_one_member_record_one_success(admin: Actor) -> None:
    membership = MembershipFactory.create()
    team, user = membership.team, membership.user
    assert race(lambda: teams.remove_member(admin, team, user)) == ["ValidationError", "done"]
    assert not TeamMembership.objects.exists()
    assert outcomes("member.remove") == ["failed", "succeeded"]


def test_two_deletes_of_one_profile_record_one_success(admin: Actor) -> None:
    profile = ProfileFactory.create()
    assert race(lambda: profiles.delete_profile(admin, profile)) == ["Http404", "done"]
    assert outcomes("profile.delete") == ["succeeded"]


def test_two_unsubscribes_record_one_success(admin: Actor) -> None:
    team = MembershipFactory.create().team
    sub = Subscription.objects.create(team=team, emails=["ops@example.com"])
    assert race(lambda: notifications.unsubscribe(admin, sub)) == ["Http404", "done"]
    assert not Subscription.objects.exists()
    assert outcomes("notification.unsubscribe") == ["succeeded"]


def test_two_revokes_of_one_token_say_which_one_revoked_it(admin: Actor) -> None:
    token, _ = tokens.create_token(admin, admin.user, "ci")
    revoked_at: list[Any] = []

    def revoke() -> None:
        revoked_at.append(tokens.revoke_token(admin, ApiToken.objects.get(pk=token.pk)).revoked_at)

    assert race(revoke) == ["done", "done"]
    events = AuditEvent.objects.filter(action="token.revoke")
    assert sorted(bool(e.payload.get("already_revoked")) for e in events) == [False, True]
    stored = ApiToken.objects.get(pk=token.pk).revoked_at
    assert revoked_at == [stored, stored]
