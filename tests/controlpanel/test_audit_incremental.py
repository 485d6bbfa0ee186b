"""``verify_audit`` from the newest checkpoint (the default) and in full (``--full``).

From a checkpoint it reads only the checkpoint's own event and the ones after it, after
checking that event still has the hash, link and count the checkpoint recorded; ``--full``
recomputes every link from the first event and compares every checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from controlpanel.audit_chain import write_checkpoint
from controlpanel.models import AuditEvent
from tests.helpers.audit import TABLE, audit_checkpoint, raw_sql, record_events, verify_audit

pytestmark = pytest.mark.django_db


def newest_checkpoint() -> Path:
    return sorted(Path(settings.AUDIT_CHECKPOINT_DIR).glob("*.json"))[-1]


def event_ids_read(queries: CaptureQueriesContext) -> list[str]:
    """The ``id > N`` bounds of the reads of the events table (where each walk started)."""
    reads = [q["sql"] for q in queries.captured_queries if f'FROM "{TABLE}"' in q["sql"]]
    return [m for sql in reads for m in re.findall(rf'"{TABLE}"\."id" > (\d+)', sql)]


@pytest.fixture
def checkpointed() -> list[AuditEvent]:
    """Three events under a checkpoint, then two more."""
    events = record_events(3)
    assert audit_checkpoint()[0] == 0
    return events + record_events(2)


def test_it_reads_only_from_the_checkpoint_on_and_says_how_far_it_checked(
    checkpointed: list[AuditEvent],
) -> None:
    with CaptureQueriesContext(connection) as queries:
        code, out, _err = verify_audit()
    assert code == 0
    assert event_ids_read(queries) == [str(checkpointed[2].pk)]
    assert out.startswith("Audit trail intact: 5 events. Checked from checkpoint ")
    assert newest_checkpoint().name in out
    assert f"its event {checkpointed[2].pk} and the 2 events after it; the 3 events" in out
    assert "--full" in out

    with CaptureQueriesContext(connection) as queries:
        code, out, _err = verify_audit("--full")
    assert code == 0 and event_ids_read(queries) == ["0"]
    assert out.startswith("Audit trail intact: 5 events (agrees with 1 checkpoints")


def test_an_edit_after_the_checkpoint_is_found(checkpointed: list[AuditEvent]) -> None:
    edited = checkpointed[4]
    raw_sql(f"UPDATE {TABLE} SET message = 'edited' WHERE id = %s", [edited.pk])  # noqa: S608
    code, _out, err = verify_audit()
    assert code == 1
    assert f"Audit trail broken at event {edited.pk}: its content was changed" in err
    assert f"The events from checkpoint {newest_checkpoint().name} of " in err
    assert f"(event {checkpointed[2].pk}) to it are intact." in err
    assert "Run verify_audit --full to check every event from the first." in err


def test_an_edit_before_the_checkpoint_takes_the_full_check(
    checkpointed: list[AuditEvent],
) -> None:
    """What a checkpoint vouched for is not read again unless asked: that is --full's job."""
    edited = checkpointed[0]
    raw_sql(f"UPDATE {TABLE} SET outcome = 'denied' WHERE id = %s", [edited.pk])  # noqa: S608
    assert verify_audit()[0] == 0
    code, _out, err = verify_audit("--full")
    assert code == 1
    assert f"Audit trail broken at event {edited.pk}: its content was changed" in err
    assert "The 0 events before it are intact." in err


def test_the_checkpoints_own_event_must_still_hold(checkpointed: list[AuditEvent]) -> None:
    at_checkpoint = checkpointed[2]
    raw_sql(f"UPDATE {TABLE} SET actor_username = 'x' WHERE id = %s", [at_checkpoint.pk])  # noqa: S608
    code, _out, err = verify_audit()
    assert code == 1
    assert f"broken at event {at_checkpoint.pk}: its content was changed" in err
    assert f"The newest checkpoint it contradicts: {newest_checkpoint().name}" in err


def test_events_removed_before_the_checkpoint_change_its_count(
    checkpointed: list[AuditEvent],
) -> None:
    raw_sql(f"DELETE FROM {TABLE} WHERE id = %s", [checkpointed[0].pk])  # noqa: S608
    code, _out, err = verify_audit()
    assert code == 1
    assert (
        f"Audit trail broken: events up to event {checkpointed[2].pk} were removed (checkpoint "
        f"{newest_checkpoint().name}"
    ) in err
    assert "counted 3 events up to it, 2 are there)" in err


def test_a_tampered_checkpoint_is_reported(checkpointed: list[AuditEvent]) -> None:
    path = newest_checkpoint()
    data = json.loads(path.read_text())
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    path.write_text(json.dumps({**data, "count": 2}))  # as if two events had never been there
    for args in [(), ("--full",)]:
        code, _out, err = verify_audit(*args)
        assert code == 1
        assert f"checkpoint {path.name} does not match its signature" in err


def test_the_periodic_checkpoint_reads_only_what_came_since_the_last_one(
    checkpointed: list[AuditEvent],
) -> None:
    with CaptureQueriesContext(connection) as queries:
        result = write_checkpoint()
    assert result.written and result.report.checked == 5
    assert event_ids_read(queries) == [str(checkpointed[2].pk)]
    assert json.loads(newest_checkpoint().read_text())["last_id"] == checkpointed[4].pk
    # And --full reads everything before writing.
    record_events(1)
    code, out, _err = audit_checkpoint("--full")
    assert code == 0 and "(6 events" in out
