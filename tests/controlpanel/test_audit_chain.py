"""The audit trail's hash chain: any edit or removal is found, and ``verify_audit`` says where."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from controlpanel.audit import Actor, record_event, verify_chain
from controlpanel.models import AuditEvent
from tests.controlpanel.conftest import REPO_ROOT
from tests.helpers.audit import TABLE, raw_sql, record_events, verify_audit

pytestmark = pytest.mark.django_db


def test_an_untouched_chain_verifies() -> None:
    record_events(4)
    report = verify_chain()
    assert report.ok
    assert report.checked == 4


def test_an_empty_trail_verifies() -> None:
    assert verify_chain().ok


def test_an_edited_payload_is_found_at_that_event() -> None:
    events = record_events(4)
    tampered = events[1]
    raw_sql(
        f"UPDATE {TABLE} SET payload = %s WHERE id = %s",  # noqa: S608 (table name is ours)
        [json.dumps({"conf": {"day": "1999-01-01"}}), tampered.pk],
    )
    report = verify_chain()
    assert not report.ok
    assert report.broken_event_id == tampered.pk
    assert "changed" in report.problem
    assert report.checked == 1  # the one before it still holds


def test_bulk_update_and_delete_are_refused_and_an_edit_behind_the_orm_is_found() -> None:
    events = record_events(3)
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=events[2].pk).update(actor_username="someone-else")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=events[2].pk).delete()
    assert verify_chain().ok
    raw_sql(
        f"UPDATE {TABLE} SET actor_username = %s WHERE id = %s",  # noqa: S608
        ["someone-else", events[2].pk],
    )
    assert verify_chain().broken_event_id == events[2].pk


def test_a_removed_middle_event_is_found_at_the_next_one() -> None:
    events = record_events(4)
    raw_sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[1].pk])  # noqa: S608
    report = verify_chain()
    assert report.broken_event_id == events[2].pk
    assert "removed" in report.problem


def test_a_removed_last_event_is_found_by_the_chain_head() -> None:
    events = record_events(3)
    raw_sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[-1].pk])  # noqa: S608
    report = verify_chain()
    assert not report.ok
    assert report.broken_event_id == events[1].pk  # the last one left
    assert "3 events, 2 remain" in report.problem


def test_events_cannot_be_changed_or_deleted_through_the_model() -> None:
    (event,) = record_events(1)
    event.message = "nothing happened"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).message == ""


def test_a_non_canonical_ipv6_address_does_not_break_the_chain() -> None:
    record_event(Actor(ip_address="2001:0DB8:0000::1"), "auth.login", outcome="succeeded")
    assert verify_chain().ok


# --- manage.py verify_audit -------------------------------------------------------------------


def test_command_reports_an_intact_trail_and_exits_0() -> None:
    record_events(3)
    code, out, err = verify_audit()
    assert code == 0
    assert out.strip() == "Audit trail intact: 3 events"
    assert err == ""


def test_command_is_silent_with_quiet_when_intact() -> None:
    record_events(2)
    assert verify_audit("--quiet") == (0, "", "")


def test_command_names_the_broken_event_and_exits_1() -> None:
    events = record_events(3)
    raw_sql(
        f"UPDATE {TABLE} SET outcome = %s WHERE id = %s",  # noqa: S608
        ["denied", events[1].pk],
    )
    code, out, err = verify_audit("--quiet")
    assert code == 1
    assert out == ""
    assert f"Audit trail broken at event {events[1].pk}" in err
    assert "its content was changed after it was written" in err


def test_command_reports_events_removed_from_the_end() -> None:
    events = record_events(2)
    raw_sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[1].pk])  # noqa: S608
    with pytest.raises(CommandError, match=f"broken at event {events[0].pk}.*removed"):
        call_command("verify_audit")


def test_command_reports_a_wiped_trail() -> None:
    record_events(2)
    raw_sql(f"DELETE FROM {TABLE}", [])  # noqa: S608
    code, _out, err = verify_audit()
    assert code == 1
    assert "Audit trail broken" in err and "2 events, 0 remain" in err


def test_manage_py_exit_codes_end_to_end(
    tmp_path: Path, subprocess_env: Callable[..., dict[str, str]]
) -> None:
    """The real ``manage.py`` in a child process, on a database of its own."""
    database = tmp_path / "db.sqlite3"
    env = subprocess_env(
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{database}",
        FIELD_ENCRYPTION_KEYS="",
        AUDIT_CHECKPOINT_DIR=str(tmp_path / "checkpoints"),
    )
    # DEBUG's development keys are enough here.
    env.pop("FIELD_ENCRYPTION_KEYS_FILE", None)

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert manage("migrate", "--noinput", "-v0").returncode == 0
    record = "from controlpanel.audit import *; record_event(Actor.system(), 'x', outcome='failed')"
    assert manage("shell", "-c", record + "; " + record).returncode == 0

    intact = manage("verify_audit")
    assert (intact.returncode, intact.stdout.strip()) == (0, "Audit trail intact: 2 events")

    with sqlite3.connect(database) as db:
        db.execute(f"UPDATE {TABLE} SET message = 'fine' WHERE id = 2")  # noqa: S608
    broken = manage("verify_audit", "--quiet")
    assert broken.returncode == 1
    assert broken.stdout == ""
    assert "Audit trail broken at event 2: its content was changed" in broken.stderr
