"""The keyed audit chain: a database writer without the HMAC key cannot rewrite it, keys
rotate, and trails written before the keyed chain still verify across the switch."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.utils import timezone
from pytest_django import Settings

from controlpanel.audit import verify_chain
from controlpanel.audit_keys import key_id_of
from controlpanel.models import AuditEvent
from tests.conftest import TEST_AUDIT_KEY
from tests.controlpanel.conftest import REPO_ROOT
from tests.helpers.audit import (
    TABLE,
    audit_checkpoint,
    raw_sql,
    record_events,
    record_legacy_events,
    set_head,
    verify_audit,
)

pytestmark = pytest.mark.django_db

NEW_KEY = "a-newer-audit-hmac-key-for-rotation-0123456789"
GUESSED_KEY = "what-an-attacker-might-try-as-the-audit-key-0000"


def rewrite_chain(events: list[AuditEvent], *, key: str | None, relabel: bool = False) -> None:
    """Change the first event and recompute every link after it consistently, head included.

    ``key`` None: plain SHA-256, the way the chain used to be made; ``relabel`` also marks
    the events as written before the keyed chain.
    """
    from controlpanel.audit_keys import AuditKey

    signer = AuditKey(key_id_of(key.encode()), key.encode()) if key else None
    prev = "0" * 64
    for n, event in enumerate(events):
        fresh = AuditEvent.objects.get(pk=event.pk)
        fresh.message = "nothing to see" if n == 0 else fresh.message
        fresh.prev_hash = prev
        if relabel:
            fresh.algorithm, fresh.key_id = AuditEvent.Algorithm.SHA256, ""
        elif signer:
            fresh.key_id = signer.key_id
        fresh.hash = fresh.compute_hash(signer)
        raw_sql(
            f"UPDATE {TABLE} SET message = %s, prev_hash = %s, hash = %s, algorithm = %s, "  # noqa: S608
            "key_id = %s WHERE id = %s",
            [fresh.message, fresh.prev_hash, fresh.hash, fresh.algorithm, fresh.key_id, fresh.pk],
        )
        prev = fresh.hash
    set_head(len(events), prev)


def test_new_events_are_signed_with_the_first_key() -> None:
    (event,) = record_events(1)
    assert event.algorithm == AuditEvent.Algorithm.HMAC_SHA256
    assert event.key_id == key_id_of(TEST_AUDIT_KEY.encode())
    assert event.hash != event.compute_hash()  # not the plain SHA-256 anyone could make
    assert TEST_AUDIT_KEY not in str(AuditEvent.objects.values().get(pk=event.pk))


def test_a_chain_recomputed_with_plain_sha256_is_found() -> None:
    events = record_events(3)
    rewrite_chain(events, key=None)
    report = verify_chain()
    assert report.broken_event_id == events[0].pk
    assert "its link recomputed" in report.problem


def test_a_chain_recomputed_with_a_guessed_key_is_found() -> None:
    events = record_events(3)
    rewrite_chain(events, key=GUESSED_KEY)
    report = verify_chain()
    assert report.broken_event_id == events[0].pk
    assert "not in AUDIT_HMAC_KEYS" in report.problem


def test_a_keyed_event_rewritten_as_an_old_style_one_is_found() -> None:
    """Relabelling the newest event as "before the keyed chain" needs no key; it is refused."""
    events = record_events(3)
    last = AuditEvent.objects.get(pk=events[2].pk)
    last.message = "nothing to see"
    last.algorithm, last.key_id = AuditEvent.Algorithm.SHA256, ""
    last.hash = last.compute_hash()
    raw_sql(
        f"UPDATE {TABLE} SET message = %s, algorithm = 'sha256', key_id = '', hash = %s "  # noqa: S608
        "WHERE id = %s",
        [last.message, last.hash, last.pk],
    )
    set_head(3, last.hash)
    report = verify_chain()
    assert report.broken_event_id == last.pk
    assert "plain SHA-256 link after the keyed chain began" in report.problem


def test_a_whole_trail_relabelled_as_old_style_contradicts_the_checkpoints() -> None:
    events = record_events(3)
    assert audit_checkpoint()[0] == 0
    rewrite_chain(events, key=None, relabel=True)
    code, _out, err = verify_audit("--full")
    assert code == 1
    assert f"Audit trail broken at event {events[0].pk}" in err
    assert "the checkpoints recorded only 0 such events" in err
    code, _out, err = verify_audit()  # from the checkpoint: its event's hash is not the same
    assert code == 1
    assert f"Audit trail broken at event {events[2].pk}: its hash is not the one" in err


def test_rotation_old_events_verify_while_their_key_stays_listed(settings: Settings) -> None:
    old_events = record_events(2)
    settings.AUDIT_HMAC_KEYS = [NEW_KEY, TEST_AUDIT_KEY]
    new_events = record_events(2)
    assert {e.key_id for e in new_events} == {key_id_of(NEW_KEY.encode())}
    assert new_events[0].prev_hash == old_events[-1].hash  # one chain across the rotation
    assert verify_audit() == (0, "Audit trail intact: 4 events\n", "")

    settings.AUDIT_HMAC_KEYS = [NEW_KEY]  # the old key taken away too early
    code, _out, err = verify_audit()
    assert code == 1
    assert f"broken at event {old_events[0].pk}" in err
    assert f"key {key_id_of(TEST_AUDIT_KEY.encode())!r}, which is not in AUDIT_HMAC_KEYS" in err


def test_an_old_style_trail_goes_on_with_keyed_events() -> None:
    legacy = record_legacy_events(3)
    keyed = record_events(2)
    assert keyed[0].prev_hash == legacy[-1].hash
    report = verify_chain()
    assert report.ok, report.problem
    assert (report.checked, report.legacy_count) == (5, 3)


def test_an_edited_old_style_event_is_still_found() -> None:
    legacy = record_legacy_events(3)
    record_events(1)
    raw_sql(f"UPDATE {TABLE} SET actor_username = 'x' WHERE id = %s", [legacy[1].pk])  # noqa: S608
    assert verify_chain().broken_event_id == legacy[1].pk


def test_old_style_events_beyond_what_the_checkpoints_recorded_are_found() -> None:
    """After the upgrade, nobody can pass off a whole new trail as written before it."""
    record_legacy_events(2)
    record_events(1)
    assert audit_checkpoint()[0] == 0  # records 2 plain links
    raw_sql(f"DELETE FROM {TABLE}")  # noqa: S608
    set_head(0, "0" * 64)
    forged = record_legacy_events(3)
    report = verify_chain()
    assert report.broken_event_id == forged[2].pk
    assert "recorded only 2 such events" in report.problem


def test_missing_key_stops_the_start_outside_debug(settings: Settings) -> None:
    settings.AUDIT_HMAC_KEYS = []
    settings.DEBUG = False
    assert "controlpanel.E003" in {m.id for m in run_checks()}
    settings.AUDIT_HMAC_KEYS = ["tiny-key-xyz", TEST_AUDIT_KEY, TEST_AUDIT_KEY]
    ids = [m.id for m in run_checks()]
    assert "controlpanel.E004" in ids and "controlpanel.E005" in ids
    assert all("tiny-key-xyz" not in m.msg for m in run_checks())  # positions, never values


def test_debug_falls_back_to_a_development_key(settings: Settings) -> None:
    settings.AUDIT_HMAC_KEYS = []
    settings.DEBUG = True
    assert not [m for m in run_checks() if m.id in {"controlpanel.E003", "controlpanel.E004"}]
    (event,) = record_events(1)
    dev_key = hashlib.sha256(f"audit-hmac:{settings.SECRET_KEY}".encode()).digest()
    assert event.key_id == key_id_of(dev_key)
    assert verify_chain().ok


def test_migrating_an_old_trail_keeps_it_verifiable(
    tmp_path: Path, subprocess_env: Callable[..., dict[str, str]]
) -> None:
    """The real migration on a database with events the old code wrote."""
    database = tmp_path / "db.sqlite3"
    env = subprocess_env(
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{database}",
        AUDIT_HMAC_KEYS=TEST_AUDIT_KEY,
        AUDIT_CHECKPOINT_DIR=str(tmp_path / "checkpoints"),
    )

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode in (0, 1), result.stderr
        return result

    manage("migrate", "controlpanel", "0007", "--noinput", "-v0")
    prev = "0" * 64
    with sqlite3.connect(database) as db:
        for n in range(2):
            old = AuditEvent(
                created_at=timezone.now(),
                actor_username=f"old{n}",
                source="web",
                action="dag.pause",
                outcome="succeeded",
                prev_hash=prev,
            )
            old.hash = old.compute_hash()
            db.execute(
                f"INSERT INTO {TABLE} (created_at, actor_username, token_prefix, source, "  # noqa: S608
                "ip_address, action, profile_slug, dag_id, dag_run_id, payload, outcome, "
                "message, request_id, prev_hash, hash) "
                "VALUES (?, ?, '', 'web', NULL, 'dag.pause', '', '', '', '{}', 'succeeded', "
                "'', '', ?, ?)",
                [
                    old.created_at.strftime("%Y-%m-%d %H:%M:%S.%f"),
                    old.actor_username,
                    old.prev_hash,
                    old.hash,
                ],
            )
            prev = old.hash
        db.execute("UPDATE controlpanel_auditchainhead SET event_count = 2, last_hash = ?", [prev])
    manage("migrate", "--noinput", "-v0")
    assert manage("verify_audit").stdout.strip() == "Audit trail intact: 2 events"
    record = "from controlpanel.audit import *; record_event(Actor.system(), 'x', outcome='failed')"
    manage("shell", "-c", record)
    intact = manage("verify_audit")
    assert (intact.returncode, intact.stdout.strip()) == (0, "Audit trail intact: 3 events")
    with sqlite3.connect(database) as db:
        rows = db.execute(
            f"SELECT algorithm, key_id, prev_hash FROM {TABLE} ORDER BY id"  # noqa: S608
        ).fetchall()
    assert [row[:2] for row in rows] == [
        ("sha256", ""),
        ("sha256", ""),
        ("hmac-sha256", key_id_of(TEST_AUDIT_KEY.encode())),
    ]
    assert rows[2][2] == prev  # the keyed chain goes on from the last old hash
