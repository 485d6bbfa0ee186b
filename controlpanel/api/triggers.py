"""Triggering a run through the API: conf checked against the DAG's params, Idempotency-Key.

Service-level code kept beside the API that alone needs it (candidate for
``controlpanel.services``): the run itself is started by ``services.dags.trigger_run``,
which checks access and audits; refusals decided here are audited here.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from controlpanel.api.errors import ConfInvalid, IdempotencyKeyReused
from controlpanel.audit import Actor, Outcome, record_event
from controlpanel.models import Dag, IdempotentRequest, Run
from controlpanel.paramforms import param_validator
from controlpanel.services import catalog, dags
from dags_api import AirflowError

# How long a request waits for an identical one already talking to Airflow.
WAIT_FOR_TWIN_SECONDS = 30.0
# Airflow checks formats (date, date-time...) too, so the API does the same.


@dataclass(frozen=True)
class Triggered:
    """The run, and whether this request started it (201) or found it (200)."""

    run: Run
    created: bool


def conf_errors(dag: Dag, conf: dict[str, Any]) -> dict[str, list[str]]:
    """param -> messages for the conf values that break the DAG's param schemas.

    Params left out are not checked: Airflow fills in their defaults.
    """
    if not dag.params and dag.params_synced_at is None:
        try:
            dag = catalog.refresh_dag(dag.profile, dag.dag_id)
        except AirflowError:
            return {}  # Airflow checks the conf itself when it cannot tell us the params
    errors: dict[str, list[str]] = {}
    for name, param in (dag.params or {}).items():
        if name not in conf or not isinstance(param, dict):
            continue
        schema = {k: v for k, v in (param.get("schema") or {}).items() if k != "description"}
        messages = [error.message for error in param_validator(schema).iter_errors(conf[name])]
        if messages:
            errors[name] = messages
    return errors


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


def trigger_from_api(
    actor: Actor,
    dag: Dag,
    *,
    conf: dict[str, Any],
    logical_date: datetime | None,
    note: str | None,
    idempotency_key: str | None,
) -> Triggered:
    """Check the conf, then start the run once per Idempotency-Key (see module docstring)."""
    body = {
        "conf": conf,
        "logical_date": logical_date.isoformat() if logical_date else None,
        "note": note,
    }
    errors = conf_errors(dag, conf)
    if errors:
        _record_refusal(actor, dag, body, "The conf does not match the DAG's params.", errors)
        raise ConfInvalid(errors)
    if not idempotency_key:
        run = dags.trigger_run(actor, dag, conf=conf, logical_date=logical_date, note=note or "")
        return Triggered(run, created=True)
    fingerprint = request_fingerprint(dag, body)
    record, mine = _claim_key(actor, dag, body, idempotency_key, fingerprint)
    if record.run_id is not None:
        return Triggered(Run.objects.select_related("profile").get(pk=record.run_id), False)
    dag_run_id = idempotent_run_id(actor.user.pk, idempotency_key)
    try:
        run = dags.trigger_run(
            actor, dag, conf=conf, logical_date=logical_date, note=note or "", dag_run_id=dag_run_id
        )
    except Exception:
        if mine:  # let the caller try the same key again
            IdempotentRequest.objects.filter(pk=record.pk, run__isnull=True).delete()
        raise
    IdempotentRequest.objects.filter(pk=record.pk).update(run=run)
    return Triggered(run, created=mine)


def _claim_key(
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
            _record_refusal(actor, dag, body, IdempotencyKeyReused.default_detail, {}, key)
            raise IdempotencyKeyReused()
        if found.run_id is not None or time.monotonic() > deadline:
            return found, False
        time.sleep(0.1)


def _record_refusal(
    actor: Actor,
    dag: Dag,
    body: dict[str, Any],
    message: str,
    errors: dict[str, list[str]],
    key: str = "",
) -> None:
    payload = {**body, "errors": errors, "idempotency_key": key}
    record_event(
        actor,
        "dag.trigger",
        outcome=Outcome.FAILED,
        profile=dag.profile,
        dag_id=dag.dag_id,
        payload=payload,
        message=message,
    )
