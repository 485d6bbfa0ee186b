"""Login lockout (django-axes): failures counted per username and address, audited, unlockable.

The defaults are the production ones: 5 failures, then 15 minutes of refusals.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.db.models import F
from django.test import Client

from controlpanel.audit import Actor
from controlpanel.models import AuditEvent
from controlpanel.permissions import ActionDenied
from controlpanel.services.users import unlock_logins
from tests.controlpanel.conftest import SettingsLoader
from tests.factories import PASSWORD
from tests.world import World

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = pytest.mark.django_db

ATTACKER_IP = "198.51.100.9"
VICTIM_IP = "203.0.113.7"
LOCKED_OUT = "Too many failed logins for this username from your address"


def log_in(
    username: str, password: str, ip: str = ATTACKER_IP, path: str = "/accounts/login/"
) -> _MonkeyPatchedWSGIResponse:
    """POST a login form from ``ip`` with a fresh browser."""
    return Client().post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail(times: int, username: str = "viewer", ip: str = ATTACKER_IP) -> None:
    """``times`` wrong passwords, each answered with the ordinary wrong-password page."""
    for attempt in range(times):
        response = log_in(username, f"wrong-guess-{attempt}", ip)
        assert response.status_code in (200, 429)


def logged_in(response: _MonkeyPatchedWSGIResponse) -> bool:
    """A login that worked redirects; a refused one shows the page again."""
    return response.status_code == 302


def wait_out_the_cool_off(minutes: int = 16) -> None:
    """Move every counted failure ``minutes`` into the past (the clock, as the database sees it)."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes))


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_four_failures_do_not_lock(world: World) -> None:
    fail(4)
    assert logged_in(log_in("viewer", PASSWORD))
    assert not events("auth.lockout")


def test_the_fifth_failure_locks_even_the_right_password_out_with_a_plain_message(
    world: World,
) -> None:
    fail(4)
    fifth = log_in("viewer", "wrong-guess-again")
    assert fifth.status_code == 429
    assert LOCKED_OUT in fifth.content.decode()
    right = log_in("viewer", PASSWORD)
    assert right.status_code == 429
    html = right.content.decode()
    assert LOCKED_OUT in html and "paused for 15 minutes" in html
    assert "ask a panel administrator to unlock it" in html
    assert 'name="password"' in html, "the login form is shown again under the message"


def test_the_lockout_is_audited_once_and_each_refusal_as_denied(world: World) -> None:
    fail(5)
    log_in("viewer", PASSWORD)
    log_in("viewer", "another-guess")
    (lockout,) = events("auth.lockout")
    assert lockout.outcome == AuditEvent.Outcome.DENIED
    assert lockout.actor_username == "viewer"
    assert lockout.ip_address == ATTACKER_IP
    assert lockout.payload == {"failures": 5, "cooloff_minutes": 15}
    assert "refused for 15 minutes" in lockout.message
    logins = [(e.outcome, e.ip_address) for e in events("auth.login")]
    assert logins == [("failed", ATTACKER_IP)] * 5 + [("denied", ATTACKER_IP)] * 2
    assert PASSWORD not in str(lockout.content())
    stored = str(list(AccessAttempt.objects.values()))
    assert "wrong-guess-" not in stored, "django-axes keeps the form data, never the passwords"


def test_after_the_cool_off_the_right_password_works(world: World) -> None:
    fail(5)
    assert not logged_in(log_in("viewer", PASSWORD))
    wait_out_the_cool_off(14)
    assert not logged_in(log_in("viewer", PASSWORD)), "refusals do not shorten it"
    wait_out_the_cool_off(2)
    assert logged_in(log_in("viewer", PASSWORD))


def test_refusals_during_the_lockout_do_not_extend_it(world: World) -> None:
    fail(5)
    wait_out_the_cool_off(14)
    fail(3)  # refused without counting: the lockout still ends 15 minutes after the 5th
    wait_out_the_cool_off(2)
    assert logged_in(log_in("viewer", PASSWORD))


def test_other_usernames_and_the_victim_elsewhere_are_not_affected(world: World) -> None:
    fail(5, "viewer", ATTACKER_IP)
    assert logged_in(log_in("operator", PASSWORD, ATTACKER_IP))
    assert logged_in(log_in("viewer", PASSWORD, VICTIM_IP))
    assert not logged_in(log_in("viewer", PASSWORD, ATTACKER_IP))


def test_a_successful_login_resets_the_count(world: World) -> None:
    fail(4)
    assert logged_in(log_in("viewer", PASSWORD))
    fail(4)
    assert logged_in(log_in("viewer", PASSWORD)), "4 + 4 failures with a login between"


def test_unknown_usernames_are_counted_the_same_way(db: None) -> None:
    fail(5, "nobody-here")
    response = log_in("nobody-here", "whatever")
    assert response.status_code == 429
    assert events("auth.lockout")[0].actor_username == "nobody-here"


def test_the_admin_login_page_is_protected_too(world: World) -> None:
    for attempt in range(5):
        log_in("superuser", f"wrong-{attempt}", path="/admin/login/")
    response = log_in("superuser", PASSWORD, path="/admin/login/")
    assert response.status_code == 429
    assert LOCKED_OUT in response.content.decode()


def test_the_limit_and_cool_off_come_from_settings(world: World, settings: object) -> None:
    settings.AXES_FAILURE_LIMIT = 2  # type: ignore[attr-defined]
    settings.AXES_COOLOFF_TIME = timedelta(minutes=3)  # type: ignore[attr-defined]
    fail(2)
    response = log_in("viewer", PASSWORD)
    assert response.status_code == 429
    assert "paused for 3 minutes" in response.content.decode()
    wait_out_the_cool_off(4)
    assert logged_in(log_in("viewer", PASSWORD))


# --- unlocking ---------------------------------------------------------------------------------


def test_unlock_command_lifts_the_lockout_and_is_audited(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    fail(5)
    call_command("unlock_login", "viewer")
    assert "Unlocked 'viewer': 1 failure counter(s) removed." in capsys.readouterr().out
    assert logged_in(log_in("viewer", PASSWORD))
    (unlock,) = events("auth.unlock")
    assert (unlock.outcome, unlock.source) == ("succeeded", "cli")
    assert unlock.actor_username == "manage.py"
    assert unlock.payload == {"user": "viewer", "ip_address": None, "counters_removed": 1}


def test_unlock_by_address_only_touches_that_address(world: World) -> None:
    fail(5, "viewer", ATTACKER_IP)
    fail(5, "operator", VICTIM_IP)
    call_command("unlock_login", "--ip", VICTIM_IP)
    assert logged_in(log_in("operator", PASSWORD, VICTIM_IP))
    assert not logged_in(log_in("viewer", PASSWORD, ATTACKER_IP))


def test_unlock_refuses_bad_input_in_plain_words(db: None) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Name a username, an IP address or both"):
        call_command("unlock_login")
    with pytest.raises(CommandError, match="'not-an-ip' is not an IP address"):
        call_command("unlock_login", "--ip", "not-an-ip")


def test_only_panel_admins_may_unlock_and_a_refusal_is_audited(world: World) -> None:
    fail(5)
    with pytest.raises(ActionDenied):
        unlock_logins(Actor(user=world.users["team_admin"]), username="viewer")
    assert not logged_in(log_in("viewer", PASSWORD))
    assert events("auth.unlock")[0].outcome == AuditEvent.Outcome.DENIED
    assert unlock_logins(Actor(user=world.users["superuser"]), username="viewer") == 1
    assert logged_in(log_in("viewer", PASSWORD))


def test_a_superuser_unlocks_in_the_admin_by_deleting_the_counter(world: World) -> None:
    fail(5)
    attempt = AccessAttempt.objects.get(username="viewer")
    admin = Client()
    admin.force_login(world.users["superuser"])
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "viewer" in listing.content.decode()
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    (unlock,) = events("auth.unlock")
    assert unlock.actor == world.users["superuser"] and unlock.source == "web"
    assert logged_in(log_in("viewer", PASSWORD))


def test_lockout_settings_refuse_nonsense(load_settings: SettingsLoader) -> None:
    for name, value in (("LOGIN_FAILURE_LIMIT", "0"), ("LOGIN_COOLOFF_MINUTES", "-5")):
        result = load_settings(DEBUG="1", **{name: value})
        assert result.returncode != 0
        assert "must be whole numbers of at least 1" in result.stderr
    result = load_settings(DEBUG="1", LOGIN_FAILURE_LIMIT="five")
    assert "LOGIN_FAILURE_LIMIT must be an integer, got 'five'" in result.stderr


def test_staff_with_axes_permissions_still_may_not_unlock(world: World) -> None:
    """Unlocking is the permission module's call (superusers), not Django's model permissions."""
    from django.contrib.auth.models import Permission

    fail(5)
    attempt = AccessAttempt.objects.get(username="viewer")
    staff = world.users["team_admin"]
    staff.is_staff = True
    staff.save()
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="axes"))
    client = Client()
    client.force_login(staff)
    url = f"/admin/axes/accessattempt/{attempt.pk}/delete/"
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()
