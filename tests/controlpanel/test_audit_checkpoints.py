"""Signed checkpoints outside the database: a wiped or shortened audit trail is reported with
the newest checkpoint it contradicts, and ``audit_checkpoint`` never vouches for a broken one."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from django.conf import settings
from pytest_django import Settings

from controlpanel import tasks
from controlpanel.audit import verify_chain
from controlpanel.audit_checkpoints import read_checkpoints, save_checkpoint
from controlpanel.audit_keys import key_id_of, signing_key
from tests.conftest import TEST_AUDIT_KEY
from tests.helpers.audit import (
    HEAD_TABLE,
    TABLE,
    audit_checkpoint,
    raw_sql,
    record_events,
    set_head,
    verify_audit,
)

pytestmark = pytest.mark.django_db


def checkpoint_files() -> list[Path]:
    return sorted(Path(settings.AUDIT_CHECKPOINT_DIR).glob("*.json"))


def test_the_command_writes_a_signed_read_only_checkpoint() -> None:
    events = record_events(3)
    code, out, _err = audit_checkpoint()
    assert code == 0
    (path,) = checkpoint_files()
    assert out.startswith(f"Checkpoint written: {path} (3 events, last event {events[-1].pk})")
    data = json.loads(path.read_text())
    assert data["count"] == 3 and data["last_id"] == events[-1].pk
    assert data["head_hash"] == events[-1].hash
    assert data["key_id"] == key_id_of(TEST_AUDIT_KEY.encode()) and data["created_at"]
    assert len(data["signature"]) == 64
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_an_unchanged_trail_gets_no_second_file_and_a_changed_one_does() -> None:
    record_events(1)
    audit_checkpoint()
    code, out, _err = audit_checkpoint()
    assert code == 0 and out.startswith("Audit trail unchanged since checkpoint")
    assert len(checkpoint_files()) == 1
    record_events(1)
    audit_checkpoint()
    assert len(checkpoint_files()) == 2
    assert verify_audit("--full")[1].startswith(
        "Audit trail intact: 2 events (agrees with 2 checkpoints"
    )


def test_a_wiped_trail_is_reported_with_the_checkpoint() -> None:
    record_events(3)
    audit_checkpoint()
    (path,) = checkpoint_files()
    raw_sql(f"DELETE FROM {TABLE}")  # noqa: S608
    raw_sql(f"DELETE FROM {HEAD_TABLE}")  # noqa: S608
    code, out, err = verify_audit()
    assert code == 1 and out == ""
    assert "intact" not in err
    assert "Audit trail broken: all events were removed" in err
    assert f"checkpoint {path.name}" in err and "counted 3 events" in err and "0 remain" in err


def test_a_trail_shortened_consistently_is_reported_with_the_newest_checkpoint_it_contradicts() -> (
    None
):
    events = record_events(2)
    audit_checkpoint()
    events += record_events(2)
    audit_checkpoint()
    older, newer = checkpoint_files()
    events += record_events(1)
    # The newest three removed, and the head row told the same story: only checkpoints know.
    for event in events[2:]:
        raw_sql(f"DELETE FROM {TABLE} WHERE id = %s", [event.pk])  # noqa: S608
    set_head(2, events[1].hash)
    report = verify_chain()
    assert not report.ok
    assert report.contradicted and report.contradicted.path == newer
    code, _out, err = verify_audit()
    assert code == 1
    assert f"broken: events were removed, the newest left is event {events[1].pk}" in err
    assert f"checkpoint {newer.name}" in err and "counted 4 events" in err and "2 remain" in err
    assert older.name not in err


def test_events_appended_after_a_truncation_do_not_hide_it() -> None:
    """Deleting the newest events and writing as many new ones keeps the count, not the head."""
    events = record_events(3)
    audit_checkpoint()
    raw_sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[2].pk])  # noqa: S608
    set_head(2, events[1].hash)
    record_events(1)
    code, _out, err = verify_audit()
    assert code == 1
    assert "events were removed" in err
    assert f"counted 3 events up to event {events[2].pk}, 3 remain" in err


def test_an_edited_event_names_the_checkpoint_that_vouched_for_it() -> None:
    events = record_events(3)
    audit_checkpoint()
    (path,) = checkpoint_files()
    raw_sql(f"UPDATE {TABLE} SET message = 'edited' WHERE id = %s", [events[1].pk])  # noqa: S608
    code, _out, err = verify_audit("--full")
    assert code == 1
    assert f"broken at event {events[1].pk}: its content was changed" in err
    assert f"The newest checkpoint it contradicts: {path.name}" in err


def test_a_broken_trail_gets_no_checkpoint() -> None:
    events = record_events(2)
    raw_sql(f"UPDATE {TABLE} SET message = 'edited' WHERE id = %s", [events[0].pk])  # noqa: S608
    code, _out, err = audit_checkpoint()
    assert code == 1
    assert "no checkpoint written" in err and f"at event {events[0].pk}" in err
    assert checkpoint_files() == []


def test_a_forged_or_damaged_checkpoint_is_reported() -> None:
    record_events(2)
    audit_checkpoint()
    (path,) = checkpoint_files()
    data = json.loads(path.read_text())
    forged = path.with_name("20990101T000000000000Z-0000000099.json")
    forged.write_text(json.dumps({**data, "count": 99}))
    (path.parent / "broken.json").write_text("{not json")
    code, _out, err = verify_audit()
    assert code == 1
    assert f"checkpoint {forged.name} does not match its signature" in err
    assert "checkpoint broken.json cannot be read" in err


def test_a_checkpoint_signed_with_a_key_no_longer_listed_is_reported(settings: Settings) -> None:
    record_events(1)
    audit_checkpoint()
    settings.AUDIT_HMAC_KEYS = ["another-audit-hmac-key-0123456789-abcdefgh", TEST_AUDIT_KEY]
    assert verify_chain().ok  # still listed: the old checkpoint verifies
    settings.AUDIT_HMAC_KEYS = ["another-audit-hmac-key-0123456789-abcdefgh"]
    assert "which is not in AUDIT_HMAC_KEYS" in verify_audit()[2]


def test_checkpoint_files_are_never_overwritten() -> None:
    from django.utils import timezone

    now = timezone.now()
    save_checkpoint(None, count=0, last_id=None, head_hash="0" * 64, legacy_count=0, now=now)
    with pytest.raises(FileExistsError):
        save_checkpoint(None, count=0, last_id=None, head_hash="0" * 64, legacy_count=0, now=now)
    checkpoints, problems = read_checkpoints()
    assert len(checkpoints) == 1 and problems == []
    assert checkpoints[0].key_id == signing_key().key_id


def test_verify_reads_another_directory(tmp_path: Path) -> None:
    record_events(1)
    assert audit_checkpoint("--checkpoint-dir", str(tmp_path))[0] == 0
    assert checkpoint_files() == []
    raw_sql(f"DELETE FROM {TABLE}")  # noqa: S608
    raw_sql(f"DELETE FROM {HEAD_TABLE}")  # noqa: S608
    assert verify_audit()[0] == 0  # the default directory has none
    assert verify_audit("--checkpoint-dir", str(tmp_path))[0] == 1


def test_the_periodic_task_writes_a_checkpoint(reachable_redis_url: str) -> None:
    record_events(2)
    tasks.write_audit_checkpoint()
    tasks.write_audit_checkpoint()  # nothing changed: no second file
    (path,) = checkpoint_files()
    assert json.loads(path.read_text())["count"] == 2


def test_the_beat_schedule_writes_checkpoints_every_ten_minutes() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["write-audit-checkpoint"]
    assert entry["task"] == "controlpanel.tasks.write_audit_checkpoint"
    assert entry["schedule"] == settings.AUDIT_CHECKPOINT_SECONDS == 600.0
