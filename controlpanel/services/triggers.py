"""The checks a trigger's input passes, for every channel alike: the panel's limits, the
conf against the DAG's params (one validator, plain-word messages), and the Idempotency-Key.

``services.actions.trigger`` runs them; a conf or key refused here is audited here
(``dag.trigger``, failed, with the errors), so a refusal reads the same in the trail
whether it came from the form, either API or an approved request.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from controlpanel import limits, paramforms
from controlpanel.audit import Actor, audited
from controlpanel.models import Dag, IdempotentRequest
from controlpanel.services import catalog
from dags_api import AirflowError

# How long a request waits for an identical one already talking to Airflow.
WAIT_FOR_TWIN_SECONDS = 30.0
CONF_REFUSED = "The conf does not match the DAG's params."
KEY_REUSED = (
    "This Idempotency-Key was already used with a different request; "
    "use a new key for a new request."
)


class ConfRefused(ValueError):
    """The conf breaks the DAG's params; ``errors`` maps each bad param to plain words."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(CONF_REFUSED)
        self.errors = errors


class IdempotencyKeyReused(ValueError):
    """The Idempotency-Key was used before with a different request body."""

    def __init__(self) -> None:
        super().__init__(KEY_REUSED)


def conf_errors(dag: Dag, conf: dict[str, Any]) -> dict[str, list[str]]:
    """param -> plain-word messages for the conf values that break the DAG's params.

    The same check as the trigger form's (``paramforms.validate_conf``). Params left out
    are not checked (Airflow fills in their defaults) unless they are required and have
    no default. Params never read from Airflow are read first.
    """
    if not dag.params and dag.params_synced_at is None:
        try:
            dag = catalog.refresh_dag(dag.profile, dag.dag_id)
        except AirflowError:
            return {}  # Airflow checks the conf itself when it cannot tell us the params
    fields = paramforms.build_fields(dag.ordered_params)
    return paramforms.validate_conf(fields, conf).errors


def request_fingerprint(dag: Dag, body: dict[str, Any]) -> str:
    """A hash of what was asked for, to tell a resubmission from a different request."""
    canonical = json.dumps(
        {"profile": dag.profile.slug, "dag_id": dag.dag_id, **body},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_run_id(user_id: int, key: str) -> str:
    """The Airflow run id for a user's key: racing twins collide in Airflow, not duplicate."""
    return "api__" + hashlib.sha256(f"{user_id}:{key}".encode()).hexdigest()[:32]


def refuse_conf(actor: Actor, dag: Dag, body: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """Raise ConfRefused for what the channel could not read, audited as a failed trigger.

    A note past its limit is kept only up to the limit.
    """
    if isinstance(body.get("note"), str):
        body = {**body, "note": body["note"][: settings.NOTE_MAX_CHARS]}
    _refused(actor, dag, body, ConfRefused(errors))


def checked_body(
    actor: Actor,
    dag: Dag,
    *,
    conf: dict[str, Any],
    logical_date: datetime | None,
    note: str | None,
) -> dict[str, Any]:
    """The request body once the conf and note passed the panel's limits and the DAG's params.

    The one check before a trigger and before an approval request alike. Raises LimitError
    or ConfRefused, audited as a failed ``dag.trigger``.
    """
    try:
        limits.check_trigger_input(conf, note)
    except limits.LimitError as exc:
        # The conf itself is not kept: it is what was too big or too deep to take.
        summary = {"conf": None, "logical_date": None, "note": (note or "")[:200]}
        _refused(actor, dag, summary, exc)
    body = {
        "conf": conf,
        "logical_date": logical_date.isoformat() if logical_date else None,
        "note": note,
    }
    errors = conf_errors(dag, conf)
    if errors:
        _refused(actor, dag, body, ConfRefused(errors))
    return body


def claim_key(
    actor: Actor, dag: Dag, body: dict[str, Any], key: str, fingerprint: str
) -> tuple[IdempotentRequest, bool]:
    """The key's record, and whether this request made it; waits briefly for a twin's run.

    Raises IdempotencyKeyReused when the key was used for a different request.
    """
    deadline = time.monotonic() + WAIT_FOR_TWIN_SECONDS
    while True:
        try:
            with transaction.atomic():
                record = IdempotentRequest.objects.create(
                    user=actor.user, key=key, request_hash=fingerprint
                )
            return record, True
        except IntegrityError:
            found = IdempotentRequest.objects.filter(user=actor.user, key=key).first()
        if found is None:
            continue  # the twin failed and let go of the key: try to claim it
        if found.request_hash != fingerprint:
            _refused(actor, dag, body, IdempotencyKeyReused(), key)
        if found.run_id is not None or time.monotonic() > deadline:
            return found, False
        time.sleep(0.1)


def refuse_key_reuse(actor: Actor, dag: Dag, body: dict[str, Any], key: str) -> None:
    """Raise IdempotencyKeyReused, audited as a failed ``dag.trigger``."""
    _refused(actor, dag, body, IdempotencyKeyReused(), key)


def _refused(
    actor: Actor, dag: Dag, body: dict[str, Any], refusal: Exception, key: str = ""
) -> None:
    """Raise ``refusal``, audited as a failed ``dag.trigger`` with the errors it names."""
    payload = {**body, "errors": getattr(refusal, "errors", {}), "idempotency_key": key}
    with audited(
        actor,
        "dag.trigger",
        profile=dag.profile,
        dag_id=dag.dag_id,
        payload=payload,
        failed=(ConfRefused, IdempotencyKeyReused, limits.LimitError),
        check_only=True,
    ):
        raise refusal
