"""Writing the audit trail: who did what, from where, with what outcome.

A service wraps each action in ``audited``: the access check (``permissions.require``) and
the change run inside it, and it records the outcome, succeeded with the change in one
transaction, or denied / failed after that transaction rolled back, so the refusal is kept.
``record_event`` writes one event; call it inside the transaction of the change it describes.

Each event's hash is an HMAC over its content and the previous hash, with a key kept
outside the database (``audit_keys``); ``verify_chain`` recomputes the chain and compares it
with the signed checkpoints ``write_checkpoint`` leaves outside the database.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from controlpanel import metrics
from controlpanel.audit_chain import ChainReport as ChainReport
from controlpanel.audit_chain import verify_chain as verify_chain
from controlpanel.audit_keys import signing_key
from controlpanel.models import AirflowProfile, AuditChainHead, AuditEvent
from controlpanel.permissions import ActionDenied
from controlpanel.request_id import current_request_id
from dags_api import AirflowError

Outcome = AuditEvent.Outcome
SECRET_KEYS = frozenset({"password", "token", "secret", "api_key", "authorization"})
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Actor:
    """Who is acting and through what: a user (or nobody), the channel, IP and API token."""

    user: Any = None  # a User, or None for the system / anonymous
    source: str = AuditEvent.Source.WEB
    ip_address: str | None = None
    token_prefix: str = ""
    username: str = ""

    @classmethod
    def from_request(
        cls, request: HttpRequest, source: str = AuditEvent.Source.WEB, token_prefix: str = ""
    ) -> Actor:
        """The actor behind a web or API request."""
        user = getattr(request, "user", None)
        if isinstance(user, AnonymousUser) or user is None or not user.is_authenticated:
            user = None
        return cls(
            user=user, source=source, ip_address=client_ip(request), token_prefix=token_prefix
        )

    @classmethod
    def system(cls, source: str = AuditEvent.Source.WORKER) -> Actor:
        """The panel itself (a Celery task or a management command)."""
        return cls(user=None, source=source)

    @property
    def name(self) -> str:
        """The username recorded in the trail."""
        if self.user is not None:
            return str(self.user.get_username())
        return self.username


def client_ip(request: HttpRequest) -> str | None:
    """The client address as the web server saw it (proxies: see README, REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR") or None


def _stored_ip(address: str | None) -> str | None:
    return AuditEvent._meta.get_field("ip_address").to_python(address) if address else None


def redact(payload: Any) -> Any:
    """A copy of ``payload`` with every secret-looking key's value replaced."""
    if isinstance(payload, dict):
        return {
            key: REDACTED if str(key).lower() in SECRET_KEYS and value else redact(value)
            for key, value in payload.items()
        }
    if isinstance(payload, list):
        return [redact(item) for item in payload]
    return payload


def record_event(
    actor: Actor,
    action: str,
    *,
    outcome: str,
    profile: AirflowProfile | str | None = None,
    dag_id: str = "",
    dag_run_id: str = "",
    payload: dict[str, Any] | None = None,
    message: str = "",
) -> AuditEvent:
    """Append one event to the chain (in the caller's transaction, or its own).

    The event carries the id of the request or Celery task being handled, if any.
    """
    profile_slug = profile.slug if isinstance(profile, AirflowProfile) else (profile or "")
    user: Any = actor.user if isinstance(actor.user, AbstractBaseUser) else None
    key = signing_key()
    event = AuditEvent(
        actor=user,
        actor_username=actor.name,
        token_prefix=actor.token_prefix,
        source=actor.source,
        # Stored as the database will give it back (IPv6 shortened), so the hash matches.
        ip_address=_stored_ip(actor.ip_address),
        action=action,
        profile_slug=profile_slug,
        dag_id=dag_id,
        dag_run_id=dag_run_id,
        payload=redact(payload or {}),
        outcome=outcome,
        message=message,
        request_id=current_request_id(),
        algorithm=AuditEvent.Algorithm.HMAC_SHA256,
        key_id=key.key_id,
    )
    # No savepoint: inside an action's transaction, a failed write must fail the action too.
    with transaction.atomic(savepoint=False):
        event.prev_hash = _take_chain_head()
        event.created_at = timezone.now()  # taken in the lock: time follows the chain
        event.hash = event.compute_hash(key)
        event.save(force_insert=True)
        AuditChainHead.objects.filter(pk=1).update(last_hash=event.hash)
    if action == "dag.trigger":
        # Counted once committed, from the audit trail, so every way to trigger counts alike.
        known = isinstance(profile, AirflowProfile)
        count = functools.partial(metrics.count_trigger, profile_slug, outcome, known_profile=known)
        transaction.on_commit(count, robust=True)
    return event


def _take_chain_head() -> str:
    """Count one more event on the chain head and return the hash the new one links to.

    One statement both locks the head row until the transaction ends (so concurrent writers
    queue up here and each links to the hash its predecessor left) and reads it.
    """
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_HEAD_SQL)
        row = cursor.fetchone()
        if row is None:
            # Only on an empty database (a migration makes the row); if events exist,
            # verification reports the chain restarting here. A writer creating it at the
            # same moment makes this one wait, then queue up behind it.
            AuditChainHead.objects.get_or_create(pk=1)
            cursor.execute(_TAKE_HEAD_SQL)
            row = cursor.fetchone()
    return str(row[0])


_TAKE_HEAD_SQL = (
    f"UPDATE {AuditChainHead._meta.db_table} SET event_count = event_count + 1 "  # noqa: S608
    "WHERE id = 1 RETURNING last_hash"
)


@dataclass
class AuditedAction:
    """The event ``audited`` will record; the action may fill in what it learns on the way.

    Set ``payload``, ``profile``, ``dag_run_id`` or ``message`` before the end, or
    ``outcome`` to failed for an action that ends without raising but did not work.
    """

    actor: Actor
    action: str
    profile: AirflowProfile | str | None = None
    dag_id: str = ""
    dag_run_id: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    outcome: str = Outcome.SUCCEEDED
    recorded: bool = False

    def record(self, outcome: str | None = None, message: str | None = None) -> AuditEvent:
        """Write the event now (in the caller's transaction, or its own)."""
        self.recorded = True
        return record_event(
            self.actor,
            self.action,
            outcome=outcome or self.outcome,
            profile=self.profile,
            dag_id=self.dag_id,
            dag_run_id=self.dag_run_id,
            payload=self.payload,
            message=self.message if message is None else message,
        )


@contextmanager
def audited(
    actor: Actor,
    action: str,
    *,
    profile: AirflowProfile | str | None = None,
    dag_id: str = "",
    dag_run_id: str = "",
    payload: dict[str, Any] | None = None,
    failed: tuple[type[Exception], ...] = (),
    not_found: str = "",
    atomic: bool = True,
    check_only: bool = False,
) -> Iterator[AuditedAction]:
    """Run one action and record its outcome: succeeded, denied or failed.

    The body runs in a transaction and the succeeded event is written at its end, in that
    transaction. ``ActionDenied`` is recorded as denied, the ``failed`` errors as failed
    with their sentence for users, both after the transaction rolled back (so the record
    stays), then re-raised. ``not_found``: record an Http404 as denied with this message.
    ``atomic=False`` for an action that calls Airflow first: no transaction is held during
    the call, and the body writes its change and ``record()`` in a transaction of its own.
    ``check_only``: a check before an action, recording only a refusal.
    """
    event = AuditedAction(actor, action, profile, dag_id, dag_run_id, dict(payload or {}))
    try:
        if atomic and not check_only:
            depth = _ACTIONS_IN_TRANSACTION.set(_ACTIONS_IN_TRANSACTION.get() + 1)
            try:
                with transaction.atomic():
                    yield event
                    if not event.recorded:
                        event.record()
            finally:
                _ACTIONS_IN_TRANSACTION.reset(depth)
        else:
            yield event
            if not (check_only or event.recorded):
                event.record()
    except Exception as exc:
        _note_refusal(event, exc, failed, not_found)
        raise


# How many ``audited`` transactions are open around the code running now.
_ACTIONS_IN_TRANSACTION: ContextVar[int] = ContextVar("actions_in_transaction", default=0)


@dataclass
class _Refusal:
    """A denied or failed outcome travelling with its exception until it can be written."""

    event: AuditedAction
    outcome: str
    message: str
    recorded: bool = False


def _note_refusal(
    event: AuditedAction, exc: Exception, failed: tuple[type[Exception], ...], not_found: str
) -> None:
    """Record the refusal ``exc`` stands for, once, and only where no rollback can undo it.

    Inside another ``audited`` action's transaction the record would roll back with it, so
    the refusal rides on the exception and the outermost action writes it.
    """
    refusal: _Refusal | None = getattr(exc, "_panel_refusal", None)
    if refusal is None:
        if isinstance(exc, ActionDenied):
            refusal = _Refusal(event, Outcome.DENIED, exc.message)
        elif isinstance(exc, Http404) and not_found:
            refusal = _Refusal(event, Outcome.DENIED, not_found)
        elif isinstance(exc, failed):
            message, details = _failure(exc)
            event.payload = {**event.payload, **details}
            refusal = _Refusal(event, Outcome.FAILED, message)
        else:
            return
        exc._panel_refusal = refusal  # type: ignore[attr-defined]
    if not refusal.recorded and _ACTIONS_IN_TRANSACTION.get() == 0:
        refusal.event.record(refusal.outcome, refusal.message)
        refusal.recorded = True


def _failure(exc: Exception) -> tuple[str, dict[str, Any]]:
    """The sentence for users of an error, and what the payload adds about it."""
    if isinstance(exc, AirflowError):
        return exc.user_message, {"error": type(exc).__name__, "error_detail": exc.detail[:2000]}
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages), {}
    return str(exc), {}
