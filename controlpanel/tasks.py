"""Celery tasks of the control panel. Tasks stay thin: load by id, call a service.

Services never import this module: the notifications service writes delivery rows and
returns their ids, and the tasks here queue the sending after commit (``send_after_commit``);
the catalog service queues ``sync_catalog`` by its name after a profile is saved.
The schedule lives in ``settings.CELERY_BEAT_SCHEDULE``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction

from controlpanel.audit_chain import write_checkpoint
from controlpanel.live_updates import record_worker_heartbeat
from controlpanel.locks import held_lock
from controlpanel.models import AirflowProfile
from controlpanel.services import approvals, catalog, notifications, tracking
from dags_api import AirflowError

log = logging.getLogger(__name__)


@shared_task
def ping() -> str:
    """Return "pong"; proves a worker is consuming from the broker and storing results."""
    return "pong"


@shared_task(ignore_result=True)
def poll_all_profiles() -> None:
    """Start one poll per active profile, so a slow Airflow never delays the others."""
    record_worker_heartbeat()
    for profile_id in AirflowProfile.objects.filter(is_active=True).values_list("pk", flat=True):
        poll_profile.apply_async((profile_id,), expires=settings.POLL_INTERVAL_SECONDS * 2)


@shared_task(ignore_result=True)
def poll_profile(profile_id: int) -> dict[str, Any] | None:
    """One poll cycle of one profile, unless another worker is polling it right now."""
    profile = AirflowProfile.objects.filter(pk=profile_id, is_active=True).first()
    if profile is None:
        return None
    with held_lock(f"poll:{profile_id}", settings.POLL_LOCK_SECONDS) as acquired:
        if not acquired:
            log.info("poll of %s skipped: another worker is polling it", profile.slug)
            return None
        cycle = tracking.poll_profile(profile)
    send_after_commit(cycle.deliveries)
    log.info("poll of %s: %s", profile.slug, cycle)
    return asdict(cycle)


@shared_task(ignore_result=True)
def sync_all_catalogs() -> None:
    """Start one DAG catalog sync per active profile."""
    for profile_id in AirflowProfile.objects.filter(is_active=True).values_list("pk", flat=True):
        sync_catalog.apply_async((profile_id,), expires=settings.CATALOG_SYNC_SECONDS)


@shared_task(ignore_result=True)
def sync_catalog(profile_id: int) -> None:
    """Refresh one profile's DAG catalog; an unreachable Airflow is logged, not raised."""
    profile = AirflowProfile.objects.filter(pk=profile_id, is_active=True).first()
    if profile is None:
        return
    with held_lock(f"catalog:{profile_id}", settings.POLL_LOCK_SECONDS) as acquired:
        if not acquired:
            return
        try:
            result = catalog.refresh_catalog(profile)
        except AirflowError as exc:
            log.warning("catalog sync of %s failed: %s", profile.slug, exc)
            return
    log.info("catalog sync of %s: %s", profile.slug, result)


@shared_task(bind=True, ignore_result=True, max_retries=None)
def send_notification(self: Any, delivery_id: int) -> None:
    """One attempt to send a run notification; the service says when to try again."""
    delay = notifications.send_delivery(delivery_id)
    if delay is not None:
        raise self.retry(countdown=delay)


@shared_task(ignore_result=True)
def send_overdue_notifications() -> None:
    """Queue again notifications whose worker died or whose queueing failed."""
    delivery_ids = notifications.overdue_deliveries()
    _queue_sending(delivery_ids)
    if delivery_ids:
        log.info("queued %s overdue notifications again", len(delivery_ids))


@shared_task(ignore_result=True)
def expire_approval_requests() -> int:
    """Expire pending approval requests past APPROVAL_TTL_HOURS (each audited once)."""
    expired = approvals.expire_due_requests()
    if expired:
        log.info("expired %s approval requests", expired)
    return expired


@shared_task(ignore_result=True)
def write_audit_checkpoint() -> None:
    """Sign the audit trail's count and head into AUDIT_CHECKPOINT_DIR (README: Audit trail).

    A broken trail gets no checkpoint and an error in the log; an unchanged one no new file.
    """
    with held_lock("audit-checkpoint", settings.AUDIT_CHECKPOINT_SECONDS) as acquired:
        if not acquired:
            return
        result = write_checkpoint()
    if result.checkpoint is None:
        log.error("audit trail broken, no checkpoint written: %s", result.report.problem)
    elif result.written:
        log.info("audit checkpoint written: %s", result.checkpoint.path)


def send_after_commit(delivery_ids: Iterable[int]) -> None:
    """Queue one ``send_notification`` per delivery once the current transaction commits.

    Outside a transaction they are queued at once. A broker that is down is logged, not
    raised: the deliveries stay pending and ``send_overdue_notifications`` finds them.
    """
    ids = list(delivery_ids)
    if ids:
        transaction.on_commit(partial(_queue_sending, ids), robust=True)


def _queue_sending(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        send_notification.delay(delivery_id)
