"""How a notification travels: its words and JSON, and one attempt by email or webhook.

The rules of who is notified of what, retries and the audit live in ``notifications``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import smtplib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from controlpanel.models import Delivery, Subscription, TaskInstance
from controlpanel.services.webhook_addresses import BlockedAddress, CheckedAdapter, host_problem


@dataclass(frozen=True)
class Attempt:
    """What one attempt to send came to: sent, or an error that may be retried."""

    ok: bool
    error: str = ""
    retryable: bool = False


def webhook_url_problem(url: str) -> str:
    """What is wrong with a webhook address in plain words, or ''.

    https only; plain http only to this machine (loopback) unless NOTIFY_WEBHOOK_ALLOW_HTTP.
    The host must resolve to public addresses only (``webhook_addresses``).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Enter the webhook address starting with https://."
    if parts.username or parts.password:
        return "Put no user name or password in the webhook address: use the signing secret."
    if parts.scheme == "http" and not (settings.NOTIFY_WEBHOOK_ALLOW_HTTP or _loopback(parts)):
        return (
            "This address is plain http://, so notifications would travel unencrypted: use "
            "https:// (an administrator can allow http with NOTIFY_WEBHOOK_ALLOW_HTTP)."
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "The port in the webhook address is not a number from 1 to 65535."
    return host_problem(parts.hostname, port)


def _loopback(parts: Any) -> bool:
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Message:
    """A notification ready to send: email subject and text, and the webhook JSON body."""

    event: str
    subject: str
    text: str
    body: dict[str, Any]
    delivery_id: int | None = None


def delivery_message(delivery: Delivery) -> Message:
    """The words and JSON of one delivery, read from the run as the poller stored it."""
    if delivery.approval is not None:
        return approval_message(delivery)
    run, sub = delivery.run, delivery.subscription
    assert run is not None  # a delivery is about a run or an approval request
    failed = sorted(
        set(TaskInstance.objects.filter(run=run, state="failed").values_list("task_id", flat=True))
    )
    who = run.triggered_by.get_username() if run.triggered_by else None
    url = settings.PANEL_BASE_URL + reverse("run", args=[run.pk])
    word = "failed" if delivery.event == Delivery.Event.RUN_FAILED else "succeeded"
    lines = [
        f"The run {run.dag_run_id} of {run.dag_id} on {run.profile.name} {word}.",
        "",
        f"DAG: {run.dag_id}",
        f"Run: {run.dag_run_id}",
        f"State: {run.state}",
        f"Started by: {who or 'Airflow (a schedule or Airflow itself)'}",
        f"Logical date: {_when(run.logical_date)}",
        f"Ended: {_when(run.end_date)}",
    ]
    if delivery.event == Delivery.Event.RUN_FAILED:
        lines.append(f"Failed tasks: {', '.join(failed) or 'none recorded'}")
    lines += [
        "",
        f"Open the run in the panel: {url}",
        "",
        f"You get this because the team {sub.team.name} subscribed to {sub.events_text} of "
        f"{sub.scope_text}. Its team admins can change that under "
        f"{settings.PANEL_BASE_URL}/manage/teams/{sub.team.slug}/.",
    ]
    body = {
        "event": delivery.event,
        "profile": run.profile.slug,
        "dag_id": run.dag_id,
        "dag_run_id": run.dag_run_id,
        "state": run.state,
        "failed_task_ids": failed,
        "logical_date": run.logical_date.isoformat() if run.logical_date else None,
        "end_date": run.end_date.isoformat() if run.end_date else None,
        "run_url": url,
        "triggered_by": who,
        "team": sub.team.slug,
        "delivery_id": delivery.pk,
    }
    # One line: a newline in a (profile) name must not become a mail header.
    subject = " ".join(f"[Airflow panel] {run.dag_id} {word} on {run.profile.name}".split())
    return Message(delivery.event, subject, "\n".join(lines) + "\n", body, delivery.pk)


def approval_message(delivery: Delivery) -> Message:
    """The words and JSON of an approval request asked for (to approvers) or decided."""
    approval, sub = delivery.approval, delivery.subscription
    assert approval is not None
    url = settings.PANEL_BASE_URL + reverse("approval", args=[approval.pk])
    asker = approval.requested_by.get_username()
    decider = approval.decided_by.get_username() if approval.decided_by else None
    if delivery.event == Delivery.Event.APPROVAL_REQUESTED:
        doing = approval.get_action_display().lower()
        what = f"{asker} asks: {doing}, {approval.dag_id} on {approval.profile.name}"
    else:
        what = f"The request for {approval.dag_id} was {approval.state} by {decider}"
    lines = [
        f"{what}.",
        "",
        f"Reason: {approval.reason}",
        f"State: {approval.state}",
        f"Expires: {_when(approval.expires_at)}",
    ]
    if approval.comment:
        lines.append(f"Comment: {approval.comment}")
    if approval.trigger_error:
        lines.append(f"The run did not start: {approval.trigger_error}")
    lines += ["", f"Open the request in the panel: {url}", ""]
    lines.append(f"You get this through the team {sub.team.name}'s notifications.")
    body = {
        "event": delivery.event,
        "approval_request": approval.pk,
        "profile": approval.profile.slug,
        "dag_id": approval.dag_id,
        "action": approval.action,
        "state": approval.state,
        "requested_by": asker,
        "decided_by": decider,
        "reason": approval.reason,
        "comment": approval.comment,
        "approval_url": url,
        "team": sub.team.slug,
        "delivery_id": delivery.pk,
    }
    subject = " ".join(f"[Airflow panel] {what}".split())
    return Message(delivery.event, subject, "\n".join(lines) + "\n", body, delivery.pk)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "unknown"


def send_message(sub: Subscription, message: Message) -> Attempt:
    """One attempt to send ``message`` through the subscription's channel."""
    if sub.channel == Subscription.Channel.EMAIL:
        return _send_email(sub, message)
    return _send_webhook(sub, message)


def email_recipients(sub: Subscription) -> list[str]:
    """The listed addresses, or every active team member's address."""
    if not sub.all_members:
        return list(sub.emails)
    members = sub.team.memberships.filter(user__is_active=True).exclude(user__email="")
    return sorted(set(members.values_list("user__email", flat=True)))


def _send_email(sub: Subscription, message: Message) -> Attempt:
    recipients = email_recipients(sub)
    if not recipients:
        return Attempt(False, "No email address to send to: no team member has one.")
    try:
        send_mail(message.subject, message.text, settings.DEFAULT_FROM_EMAIL, recipients)
    except (smtplib.SMTPException, OSError) as exc:
        return Attempt(False, f"The mail server could not take the email: {exc}", True)
    return Attempt(True)


def sign(secret: str, body: bytes) -> str:
    """The X-Panel-Signature header value: ``sha256=`` and the HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _send_webhook(sub: Subscription, message: Message) -> Attempt:
    problem = webhook_url_problem(sub.url)
    if problem:
        return Attempt(False, problem)
    body = json.dumps(message.body, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "airflow-control-panel",
        "X-Panel-Event": message.event,
    }
    if message.delivery_id is not None:
        headers["X-Panel-Delivery"] = str(message.delivery_id)
    secret = sub.reveal_secret()
    if secret:
        headers["X-Panel-Signature"] = sign(secret, body)
    timeout = settings.NOTIFY_WEBHOOK_TIMEOUT_SECONDS
    host = sub.target_text
    try:
        with requests.Session() as session:
            session.mount("http://", CheckedAdapter())
            session.mount("https://", CheckedAdapter())
            response = session.post(
                sub.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            )
    except BlockedAddress as exc:
        return Attempt(False, f"{exc} Not sent; not retried.")
    except requests.Timeout:
        return Attempt(False, f"The webhook at {host} did not answer within {timeout:g} s.", True)
    except requests.exceptions.SSLError:
        return Attempt(False, f"The TLS certificate of {host} could not be verified.", True)
    except requests.RequestException:
        reason = f"The webhook at {host} could not be reached (connection refused or no such host)."
        return Attempt(False, reason, True)
    status = response.status_code
    if 200 <= status < 300:
        return Attempt(True)
    if status >= 500 or status == 429:
        return Attempt(False, f"The webhook at {host} answered {status} (try again later).", True)
    return Attempt(
        False, f"The webhook at {host} refused the notification with {status}; not retried."
    )
