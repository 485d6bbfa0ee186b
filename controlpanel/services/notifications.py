"""Run notifications: teams subscribe to their DAGs' run endings by email or webhook.

Three parts: managing a team's subscriptions (team admins and panel admins, audited),
noticing run endings (the poller calls ``notify_run_endings`` in the transaction that
writes the run, and the unique delivery row makes each ending notified once), and sending
(a Celery task calls ``send_delivery`` once per attempt; network errors, 5xx and 429 are
retried with exponential back-off, other answers are final). Every final outcome is audited.

The delivery rows are an outbox: this module writes them and hands back their ids, and
whoever owns the transaction (the Celery tasks) queues the sending after commit, so
services never import the tasks.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from controlpanel.audit import Actor, Outcome, audited, record_event
from controlpanel.models import (
    AirflowProfile,
    ApprovalRequest,
    DagGrant,
    Delivery,
    Run,
    Subscription,
    Team,
    TeamMembership,
)
from controlpanel.permissions import access_for, require, teams_seeing_dags
from controlpanel.services import lock_row
from controlpanel.services.notification_channels import (
    Attempt,
    Message,
    delivery_message,
    email_recipients,
    send_message,
    webhook_url_problem,
)
from controlpanel.services.teams import DAG_ID_RE, DAG_PATTERN_RE, clean_selector

log = logging.getLogger(__name__)

RunKey = tuple[str, str]
EVENT_OF_STATE = {"failed": Delivery.Event.RUN_FAILED, "success": Delivery.Event.RUN_SUCCEEDED}
SUBSCRIPTION_FIELDS = (
    "name",
    "channel",
    "emails",
    "all_members",
    "url",
    "on_failure",
    "on_success",
    "profile",
    "dag_ids",
    "dag_patterns",
    "is_active",
)
MAX_EMAILS = 50
# A delivery claimed by a worker that then died is sent again this long after it was due.
OVERDUE_GRACE = timedelta(minutes=5)
ONLY_MANAGERS = "Only panel administrators and this team's team admins manage its notifications."


# --- managing subscriptions ----------------------------------------------------------------


def subscription_payload(subscription: Subscription) -> dict[str, Any]:
    """The subscription as audit payload: where and what, never the signing secret."""
    return {
        "team": subscription.team.slug,
        "subscription": subscription.pk,
        "channel": subscription.channel,
        "target": subscription.target_text,
        "events": subscription.events_text,
        "scope": subscription.scope_text,
        "active": subscription.is_active,
        "signed": subscription.has_secret,
    }


def _require_manager(actor: Actor, action: str, team: Team, payload: dict[str, Any]) -> None:
    """Raise ActionDenied, recorded as denied, unless the actor manages the team."""
    with audited(actor, action, payload=payload, check_only=True):
        require(access_for(actor.user).can_manage_notifications(team), ONLY_MANAGERS)


def _field_problems(sub: Subscription) -> dict[str, str]:
    """Every problem of a subscription's fields, by field, in plain words."""
    problems: dict[str, str] = {}
    if sub.channel == Subscription.Channel.EMAIL:
        bad = [address for address in sub.emails if not _valid_email(address)]
        if bad:
            problems["emails"] = f"Not an email address: {', '.join(bad)}."
        elif len(sub.emails) > MAX_EMAILS:
            problems["emails"] = f"At most {MAX_EMAILS} addresses."
        elif not (sub.emails or sub.all_members):
            problems["emails"] = "Enter email addresses, or tick 'all team members'."
    elif sub.channel == Subscription.Channel.WEBHOOK:
        problem = webhook_url_problem(sub.url)
        if problem:
            problems["url"] = problem
    else:
        problems["channel"] = "Choose a channel: email or webhook."
    if not (sub.on_failure or sub.on_success):
        problems["on_failure"] = "Choose at least one event: failed runs or successful runs."
    for dag_id in sub.dag_ids:
        if not DAG_ID_RE.match(dag_id):
            problems["dag_ids"] = f"'{dag_id}' is not a DAG id: use letters, digits and _ . -."
    for pattern in sub.dag_patterns:
        if not DAG_PATTERN_RE.match(pattern):
            problems["dag_patterns"] = f"'{pattern}' is not a DAG id pattern (letters, * and ?)."
    if (
        sub.profile_id
        and not DagGrant.objects.filter(team_id=sub.team_id, profile_id=sub.profile_id).exists()
    ):
        problems["profile"] = "The team has no grant on this Airflow, so it would hear nothing."
    return problems


def _valid_email(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def _apply_fields(sub: Subscription, fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(SUBSCRIPTION_FIELDS)
    if unknown:
        raise TypeError(f"unknown subscription fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        if name in ("emails", "dag_ids", "dag_patterns"):
            value = clean_selector(value)
        elif name in ("name", "url"):
            value = value.strip()
        setattr(sub, name, value)
    if sub.channel == Subscription.Channel.WEBHOOK:
        sub.emails, sub.all_members = [], False
    else:
        sub.url, sub.secret_encrypted = "", ""


def _save_checked(actor: Actor, action: str, sub: Subscription) -> None:
    """Refuse (audited as failed) a subscription with bad fields, else save it, audited."""
    problems = _field_problems(sub)
    if problems:
        record_event(
            actor,
            action,
            outcome=Outcome.FAILED,
            payload=subscription_payload(sub),
            message=" ".join(problems.values()),
        )
        raise ValidationError(problems)
    with transaction.atomic():
        sub.save()
        record_event(actor, action, outcome=Outcome.SUCCEEDED, payload=subscription_payload(sub))


def subscribe(actor: Actor, team: Team, *, secret: str = "", **fields: Any) -> Subscription:
    """Subscribe a team to run endings; raises ValidationError (audited) for bad fields."""
    sub = Subscription(team=team)
    _require_manager(actor, "notification.subscribe", team, {"team": team.slug})
    _apply_fields(sub, fields)
    if sub.channel == Subscription.Channel.WEBHOOK:
        sub.set_secret(secret)
    _save_checked(actor, "notification.subscribe", sub)
    return sub


def update_subscription(
    actor: Actor, sub: Subscription, *, new_secret: str | None = None, **fields: Any
) -> Subscription:
    """Change a subscription; ``new_secret`` None keeps the signing secret, '' removes it.

    On refusal (ValidationError) the subscription object is left as it was stored.
    """
    payload = {"team": sub.team.slug, "subscription": sub.pk}
    _require_manager(actor, "notification.update", sub.team, payload)
    _apply_fields(sub, fields)
    if sub.channel == Subscription.Channel.WEBHOOK and new_secret is not None:
        sub.set_secret(new_secret)
    try:
        _save_checked(actor, "notification.update", sub)
    except ValidationError:
        sub.refresh_from_db()
        raise
    return sub


def unsubscribe(actor: Actor, sub: Subscription) -> None:
    """Delete a subscription (its delivery records go with it; the audit trail stays)."""
    payload = subscription_payload(sub)
    _require_manager(actor, "notification.unsubscribe", sub.team, payload)
    with transaction.atomic():
        locked = lock_row(sub, "This notification was removed meanwhile.")
        record_event(actor, "notification.unsubscribe", outcome=Outcome.SUCCEEDED, payload=payload)
        locked.delete()


# --- noticing run endings --------------------------------------------------------------------


def notify_run_endings(
    profile: AirflowProfile,
    runs: dict[RunKey, Run],
    finished_before: dict[RunKey, bool],
    now: datetime,
) -> list[int]:
    """Create one delivery per matching subscription for each run that just ended.

    Called by the poller inside the transaction that wrote the runs. A run ended "just now"
    when the poller saw it unfinished before, or sees it for the first time having ended
    within NOTIFY_RECENT_SECONDS (history read on a first poll stays quiet). Returns the
    new deliveries' ids: the caller queues their sending once the transaction commits.
    """
    recent = now - timedelta(seconds=settings.NOTIFY_RECENT_SECONDS)
    ended = [
        run
        for key, run in runs.items()
        if run.is_finished
        and run.state in EVENT_OF_STATE
        and finished_before.get(key) is not True
        and (key in finished_before or (run.end_date or now) >= recent)
    ]
    if not ended:
        return []
    subscriptions = _active_subscriptions(profile)
    if not subscriptions:
        return []
    teams_by_dag = teams_seeing_dags(profile, {run.dag_id for run in ended})
    created = []
    for run in ended:
        event = EVENT_OF_STATE[run.state]
        for sub in subscriptions:
            if _wants(sub, run, event, teams_by_dag[run.dag_id]):
                delivery, new = Delivery.objects.get_or_create(
                    subscription=sub, run=run, event=event, run_ended_at=_ended_key(run)
                )
                if new:
                    created.append(delivery.pk)
    return created


# --- approvals ---------------------------------------------------------------------------------

SEND_TASK = "controlpanel.tasks.send_notification"


def notify_approval(approval: ApprovalRequest, event: str) -> list[int]:
    """One delivery per active subscription that hears of this approval event.

    ``approval.requested`` goes to the approver teams, ``approval.decided`` to the
    requester's teams that may view the DAG. Call inside the transaction of the change;
    the sending is queued once it commits (``queue_after_commit``).
    """
    if event == Delivery.Event.APPROVAL_REQUESTED:
        teams = {team.pk for team in approval.approver_teams.all()}
    else:
        theirs = set(
            TeamMembership.objects.filter(user_id=approval.requested_by_id).values_list(
                "team_id", flat=True
            )
        )
        teams = theirs & teams_seeing_dags(approval.profile, [approval.dag_id])[approval.dag_id]
    subs = Subscription.objects.filter(is_active=True, team_id__in=teams)
    created = []
    for sub in subs:
        if sub.profile_id not in (None, approval.profile_id) or not _in_scope(sub, approval.dag_id):
            continue
        delivery, new = Delivery.objects.get_or_create(
            subscription=sub, approval=approval, event=event
        )
        if new:
            created.append(delivery.pk)
    queue_after_commit(created)
    return created


def _in_scope(sub: Subscription, dag_id: str) -> bool:
    if not (sub.dag_ids or sub.dag_patterns):
        return True
    return DagGrant(dag_ids=sub.dag_ids, dag_patterns=sub.dag_patterns).matches(dag_id, [])


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


def _active_subscriptions(profile: AirflowProfile) -> list[Subscription]:
    """Active subscriptions of teams with a grant on the profile, scoped to it or to all."""
    teams = DagGrant.objects.filter(profile=profile).values("team_id")
    subs = Subscription.objects.filter(is_active=True, team_id__in=teams).select_related("team")
    return [sub for sub in subs if sub.profile_id in (None, profile.pk)]


def _wants(sub: Subscription, run: Run, event: str, teams: set[int]) -> bool:
    """The team may view the run's DAG, and the subscription asks for this event and DAG."""
    if sub.team_id not in teams:
        return False
    if event == Delivery.Event.RUN_FAILED and not sub.on_failure:
        return False
    if event == Delivery.Event.RUN_SUCCEEDED and not sub.on_success:
        return False
    if not (sub.dag_ids or sub.dag_patterns):
        return True
    scope = DagGrant(dag_ids=sub.dag_ids, dag_patterns=sub.dag_patterns)
    return scope.matches(run.dag_id, [])


def _ended_key(run: Run) -> str:
    return run.end_date.isoformat() if run.end_date else "unknown"


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


# --- sending ---------------------------------------------------------------------------------


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
                "target": _target(sub),
                "event": delivery.event,
                "attempts": delivery.attempts,
            },
            message=message,
        )


def _target(sub: Subscription) -> str:
    """The audit trail's target: the addresses, or the webhook host only (no path, no query)."""
    if sub.channel == Subscription.Channel.EMAIL:
        return ", ".join(email_recipients(sub)) or "nobody"
    return sub.target_text


# --- test notification -----------------------------------------------------------------------


def send_test(actor: Actor, sub: Subscription) -> Attempt:
    """Send a sample notification now (one attempt, no retry) and audit how it went."""
    payload = subscription_payload(sub)
    _require_manager(actor, "notification.test", sub.team, payload)
    url = settings.PANEL_BASE_URL + "/runs/"
    body = {
        "event": "test",
        "profile": sub.profile.slug if sub.profile else None,
        "dag_id": "example_dag",
        "dag_run_id": "test_notification",
        "state": "failed",
        "failed_task_ids": ["example_task"],
        "logical_date": None,
        "end_date": timezone.now().isoformat(),
        "run_url": url,
        "triggered_by": actor.name or None,
        "team": sub.team.slug,
        "delivery_id": None,
    }
    text = (
        f"This is a test notification for the team {sub.team.name}, sent by {actor.name}.\n"
        f"Real ones tell of {sub.events_text} of {sub.scope_text}, with a link to the run.\n"
    )
    message = Message("test", "[Airflow panel] Test notification", text, body)
    result = send_message(sub, message)
    record_event(
        actor,
        "notification.test",
        outcome=Outcome.SUCCEEDED if result.ok else Outcome.FAILED,
        payload={**payload, "target": _target(sub)},
        message=result.error,
    )
    return result
