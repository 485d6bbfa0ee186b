"""Sending deliveries: queueing after commit, one attempt per task, retries, the final audit.

A Celery task calls ``send_delivery`` once per attempt; network errors, 5xx and 429 are
retried with exponential back-off, other answers are final. Every final outcome is audited.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from controlpanel.audit import Actor, Outcome, record_event
from controlpanel.models import ApprovalRequest, Delivery, Run, Team
from controlpanel.services.notification_channels import Attempt, delivery_message, send_message
from controlpanel.services.notifications.subscriptions import audit_target

log = logging.getLogger(__name__)

SEND_TASK = "controlpanel.tasks.send_notification"
# A delivery claimed by a worker that then died is sent again this long after it was due.
OVERDUE_GRACE = timedelta(minutes=5)


def queue_after_commit(delivery_ids: list[int]) -> None:
    """Queue the sending of deliveries by the task's name once the transaction commits.

    A broker that is down is logged, not raised: the overdue sweep sends them later.
    """
    ids = list(delivery_ids)

    def queue() -> None:
        for delivery_id in ids:
            current_app.send_task(SEND_TASK, (delivery_id,))

    if ids:
        transaction.on_commit(queue, robust=True)


def overdue_deliveries(now: datetime | None = None) -> list[int]:
    """Pending deliveries whose next attempt is long overdue (a worker died or Redis was
    down when they were queued), at most 500: the beat task queues them again."""
    cutoff = (now or timezone.now()) - OVERDUE_GRACE
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING)
    due = pending.filter(next_attempt_at__lte=cutoff) | pending.filter(
        next_attempt_at__isnull=True, created_at__lte=cutoff
    )
    return list(due.values_list("pk", flat=True)[:500])


def recent_deliveries(team: Team, limit: int = 10) -> list[Delivery]:
    """The team's latest notifications and how sending them went, newest first."""
    deliveries = Delivery.objects.filter(subscription__team=team).select_related(
        "run", "subscription"
    )
    return list(deliveries.order_by("-created_at", "-id")[:limit])


def retry_delay(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: the base, doubled after each attempt."""
    return float(settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** (attempt - 1))


def send_delivery(delivery_id: int) -> float | None:
    """Make one attempt to send a delivery; returns seconds until the next, or None if done.

    The attempt is claimed with a compare-and-set on ``attempts``, so a duplicated task
    or a second worker never sends the same attempt twice.
    """
    delivery = (
        Delivery.objects.select_related(
            "subscription__team",
            "run__profile",
            "run__triggered_by",
            "approval__profile",
            "approval__requested_by",
            "approval__decided_by",
        )
        .filter(pk=delivery_id, status=Delivery.Status.PENDING)
        .first()
    )
    if delivery is None:
        return None
    now = timezone.now()
    attempt = delivery.attempts + 1
    busy_until = now + timedelta(seconds=settings.NOTIFY_WEBHOOK_TIMEOUT_SECONDS + 60)
    claimed = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.PENDING, attempts=delivery.attempts
    ).update(attempts=attempt, next_attempt_at=busy_until, updated_at=now)
    if not claimed:
        return None
    delivery.attempts = attempt
    result = _attempt(delivery)
    if not result.ok and result.retryable and attempt < settings.NOTIFY_MAX_ATTEMPTS:
        delay = retry_delay(attempt)
        Delivery.objects.filter(pk=delivery.pk).update(
            last_error=result.error,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            updated_at=timezone.now(),
        )
        return delay
    _finish(delivery, result)
    return None


def _attempt(delivery: Delivery) -> Attempt:
    """Send once; a subscription switched off meanwhile is not sent, a bug is retried."""
    if not delivery.subscription.is_active:
        return Attempt(False, "The notification was switched off before it could be sent.")
    try:
        return send_message(delivery.subscription, delivery_message(delivery))
    except Exception as exc:
        # Counted like a network error, so NOTIFY_MAX_ATTEMPTS still ends it.
        log.exception("sending notification %s failed", delivery.pk)
        return Attempt(False, f"Sending failed unexpectedly: {exc}", True)


def _finish(delivery: Delivery, result: Attempt) -> None:
    """Record the final outcome on the delivery and in the audit trail, together."""
    sub, now = delivery.subscription, timezone.now()
    about: Run | ApprovalRequest = delivery.run or delivery.approval  # type: ignore[assignment]
    status = Delivery.Status.SENT if result.ok else Delivery.Status.FAILED
    message = result.error
    if not result.ok and delivery.attempts > 1:
        message = f"{result.error} (gave up after {delivery.attempts} attempts)"
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            status=status,
            last_error=message,
            sent_at=now if result.ok else None,
            next_attempt_at=None,
            updated_at=now,
        )
        record_event(
            Actor.system(),
            "notification.send",
            outcome=Outcome.SUCCEEDED if result.ok else Outcome.FAILED,
            profile=about.profile,
            dag_id=about.dag_id,
            dag_run_id=delivery.run.dag_run_id if delivery.run else "",
            payload={
                **({"approval_request": delivery.approval_id} if delivery.approval_id else {}),
                "team": sub.team.slug,
                "subscription": sub.pk,
                "delivery": delivery.pk,
                "channel": sub.channel,
                "target": audit_target(sub),
                "event": delivery.event,
                "attempts": delivery.attempts,
            },
            message=message,
        )
