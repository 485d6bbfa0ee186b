"""The panel's side of the DAGs and runs people act on: finding the DAG an action names,
and the records of the runs it starts and retries.

The actions themselves (trigger, pause, retry, set a run's state) are ``services.actions``;
they call these inside their audited transaction.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from controlpanel.audit import Actor, audited
from controlpanel.models import ApprovalRequest, AuditEvent, Dag, Run, StateChange
from controlpanel.permissions import access_for
from dags_api import DagRun, TriggerResult

# Audit sources whose runs count as started through an API (the panel's or Airflow's).
API_SOURCES = (AuditEvent.Source.API, AuditEvent.Source.AIRFLOW_API)
# What a run the poller saw first takes over from the panel's trigger.
CLAIMED_FIELDS = ("triggered_by", "source", "approved_by", "approval_request")


def find_dag(actor: Actor, profile_slug: str, dag_id: str, audit_action: str) -> Dag:
    """The DAG an action names, if the user may see it; else 404, recorded as ``audit_action``.

    Whether they may do the action itself is the action's own check (``actions.gate``).
    """
    not_visible = "No such DAG (or not visible)."
    with audited(
        actor,
        audit_action,
        profile=profile_slug,
        dag_id=dag_id,
        not_found=not_visible,
        check_only=True,
    ):
        return access_for(actor.user).get_dag(profile_slug, dag_id)


def save_triggered_run(
    actor: Actor, dag: Dag, result: TriggerResult, approval: ApprovalRequest | None = None
) -> Run:
    """The run Airflow started, stored (or claimed from the poller, who may have seen it)."""
    fields = _run_fields(result.run, actor)
    if approval is not None:
        fields.update(approved_by=approval.decided_by, approval_request=approval)
    run, created = Run.objects.select_related("profile", "triggered_by").get_or_create(
        profile=dag.profile,
        dag_id=dag.dag_id,
        dag_run_id=result.run.dag_run_id,
        defaults=fields,
    )
    if created:
        StateChange.objects.create(run=run, to_state=run.state, observed_at=run.created_at)
    elif run.source == Run.Source.AIRFLOW:
        # The poller saw the run before this commit: it is ours, say who started it.
        claimed = {k: v for k, v in fields.items() if k in CLAIMED_FIELDS}
        Run.objects.filter(pk=run.pk).update(**claimed)
        for name, value in claimed.items():
            setattr(run, name, value)
    return run


def _run_fields(run: DagRun, actor: Actor) -> dict[str, Any]:
    return {
        "state": run.state,
        "conf": run.conf,
        "note": run.note or "",
        "logical_date": run.logical_date,
        "queued_at": run.queued_at,
        "start_date": run.start_date,
        "end_date": run.end_date,
        "triggered_by": actor.user,
        "source": Run.Source.API if actor.source in API_SOURCES else Run.Source.WEB,
    }


def record_retry(actor: Actor, run: Run) -> None:
    """The run's timeline entry for the retry: back to queued, and who asked for it.

    It starts from the state stored last (the caller's copy may predate the poller's).
    The poller credits the tasks it then sees running again to this entry.
    """
    stored = Run.objects.filter(pk=run.pk).values_list("state", flat=True).first()
    StateChange.objects.create(
        run=run,
        from_state=stored or run.state,
        to_state="queued",
        observed_at=timezone.now(),
        retry=True,
        retry_requested_by=actor.user,
    )
