"""Run notifications: teams subscribe to their DAGs' run endings by email or webhook.

Four parts: managing a team's subscriptions (``subscriptions``: team admins and panel
admins, audited), noticing run endings (``run_endings``: the poller calls
``notify_run_endings`` in the transaction that writes the run, and the unique delivery row
makes each ending notified once), approval requests and decisions (``approval_events``), and
sending (``sending``: a Celery task calls ``send_delivery`` once per attempt; network errors,
5xx and 429 are retried with exponential back-off, other answers are final). Every final
outcome is audited.

The delivery rows are an outbox: this package writes them and hands back their ids, and
whoever owns the transaction (the Celery tasks) queues the sending after commit, so
services never import the tasks.

The names below are re-exported for callers (``notifications.subscribe(...)``); a test that
replaces a name must patch it in the module that looks it up, not here.
"""

from __future__ import annotations

from controlpanel.services.notifications.approval_events import notify_approval
from controlpanel.services.notifications.run_endings import (
    EVENT_OF_STATE,
    RunKey,
    notify_run_endings,
)
from controlpanel.services.notifications.sending import (
    OVERDUE_GRACE,
    SEND_TASK,
    overdue_deliveries,
    queue_after_commit,
    recent_deliveries,
    retry_delay,
    send_delivery,
)
from controlpanel.services.notifications.subscriptions import (
    MAX_EMAILS,
    ONLY_MANAGERS,
    SUBSCRIPTION_FIELDS,
    audit_target,
    covers_dag,
    send_test,
    subscribe,
    subscription_payload,
    unsubscribe,
    update_subscription,
)

__all__ = [
    "EVENT_OF_STATE",
    "MAX_EMAILS",
    "ONLY_MANAGERS",
    "OVERDUE_GRACE",
    "SEND_TASK",
    "SUBSCRIPTION_FIELDS",
    "RunKey",
    "audit_target",
    "covers_dag",
    "notify_approval",
    "notify_run_endings",
    "overdue_deliveries",
    "queue_after_commit",
    "recent_deliveries",
    "retry_delay",
    "send_delivery",
    "send_test",
    "subscribe",
    "subscription_payload",
    "unsubscribe",
    "update_subscription",
]
