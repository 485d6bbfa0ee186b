"""Managing a team's subscriptions: subscribe, change, stop, and send a test notification.

Only panel administrators and the team's team admins manage them; every attempt is audited
(succeeded, refused for bad fields, or denied).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from controlpanel.audit import Actor, Outcome, audited, record_event
from controlpanel.models import DagGrant, Subscription, Team
from controlpanel.permissions import access_for, dag_matches, require
from controlpanel.services import lock_row
from controlpanel.services.notification_channels import (
    Attempt,
    Message,
    email_recipients,
    send_message,
    webhook_url_problem,
)
from controlpanel.services.teams import DAG_ID_RE, DAG_PATTERN_RE, clean_selector

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
ONLY_MANAGERS = "Only panel administrators and this team's team admins manage its notifications."


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


def audit_target(sub: Subscription) -> str:
    """The audit trail's target: the addresses, or the webhook host only (no path, no query)."""
    if sub.channel == Subscription.Channel.EMAIL:
        return ", ".join(email_recipients(sub)) or "nobody"
    return sub.target_text


def covers_dag(sub: Subscription, dag_id: str) -> bool:
    """The subscription's DAG scope takes in ``dag_id``; no ids and no patterns take in all.

    The same matching rule as a team's grant, so a subscription hears exactly the DAGs a
    grant with those ids and patterns would show.
    """
    if not (sub.dag_ids or sub.dag_patterns):
        return True
    return dag_matches(dag_id, (), ids=sub.dag_ids, patterns=sub.dag_patterns)


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
        payload={**payload, "target": audit_target(sub)},
        message=result.error,
    )
    return result
