"""Writers at the same moment, each on its own connection, still make one unbroken chain.

Run on PostgreSQL (the head row's lock) and SQLite (writers queue up) alike.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from controlpanel.audit import Actor, record_event, verify_chain
from controlpanel.models import AuditChainHead, AuditEvent, Team

pytestmark = pytest.mark.django_db(transaction=True)
WRITERS, EACH = 6, 15


@pytest.mark.parametrize("head_row", [True, False], ids=["head row", "empty database"])
def test_concurrent_writers_make_one_chain(head_row: bool) -> None:
    if head_row:  # as the migration leaves it
        AuditChainHead.objects.get_or_create(pk=1)
    else:
        AuditChainHead.objects.all().delete()
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        start.wait()
        try:
            for k in range(EACH):
                if k % 2:
                    record_event(Actor(username=f"w{n}"), "dag.pause", outcome="succeeded")
                else:  # inside an action's transaction, as ``audited`` writes it
                    with transaction.atomic():
                        record_event(Actor(username=f"w{n}"), "dag.unpause", outcome="failed")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    report = verify_chain()
    assert report.ok, report.problem
    assert report.checked == WRITERS * EACH == AuditChainHead.objects.get().event_count
    times = list(AuditEvent.objects.order_by("id").values_list("created_at", flat=True))
    assert times == sorted(times)  # taken in the lock: time follows the chain


def test_a_failed_write_inside_an_action_fails_the_action() -> None:
    """No savepoint of its own: even if the caller carries on, the change is not committed
    without its event."""
    record_event(Actor(), "team.create", outcome="succeeded")
    with transaction.atomic():
        Team.objects.create(name="Ops", slug="ops")
        with pytest.raises(TypeError):  # the payload cannot be stored
            record_event(Actor(), "team.create", outcome="succeeded", payload={"x": object()})
    assert not Team.objects.exists()
    assert AuditChainHead.objects.get().event_count == 1
    assert verify_chain().ok
