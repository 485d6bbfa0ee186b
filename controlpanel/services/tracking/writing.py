"""Writing what one poll cycle read: only the rows that changed, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controlpanel.models import AirflowProfile, Dag, Run, StateChange, TaskInstance
from controlpanel.services import notifications
from controlpanel.services.tracking.reading import (
    FINISHED_STATES,
    Observed,
    RunKey,
    waited_too_long,
)
from dags_api import DagRun as AirflowRun
from dags_api import TaskInstance as AirflowTaskInstance

MISSING_POLLS_BEFORE_GIVING_UP = 3
STALE_SCHEDULER_DOWN = "The Airflow scheduler appears to be down."
STALE_DAG_PAUSED = "The DAG is paused: the run waits until someone unpauses it."
STALE_WAITING = "Waiting for the Airflow scheduler to start it."
GONE_FROM_AIRFLOW = "Airflow no longer has this run (it was deleted there)."


def apply_observed(
    profile: AirflowProfile, observed: Observed, now: datetime
) -> tuple[int, list[int]]:
    """Write what changed; returns the rows inserted or updated and the new deliveries' ids.

    Runs that just ended are handed to the notifications in this same transaction; their
    deliveries are sent only after it commits, by whoever called the poll.
    """
    rows = _known_runs(profile, set(observed.runs) | observed.not_found)
    finished_before = {key: row.is_finished for key, row in rows.items()}
    written = _write_runs(profile, observed, rows, now)
    written += _write_task_instances(observed, rows, now)
    written += _write_missing(observed.not_found, rows)
    deliveries = notifications.notify_run_endings(profile, rows, finished_before, now)
    return written, deliveries


def _known_runs(profile: AirflowProfile, keys: set[RunKey]) -> dict[RunKey, Run]:
    if not keys:
        return {}
    candidates = Run.objects.filter(profile=profile, dag_run_id__in={r for _, r in keys})
    return {(r.dag_id, r.dag_run_id): r for r in candidates if (r.dag_id, r.dag_run_id) in keys}


def _run_values(run: AirflowRun) -> dict[str, Any]:
    return {
        "state": run.state,
        "queued_at": run.queued_at,
        "start_date": run.start_date,
        "end_date": run.end_date,
        "logical_date": run.logical_date,
        "is_finished": run.state in FINISHED_STATES,
        "missing_polls": 0,
    }


def _write_runs(
    profile: AirflowProfile, observed: Observed, rows: dict[RunKey, Run], now: datetime
) -> int:
    """Create runs seen for the first time, update changed ones, record state changes."""
    paused = set(
        Dag.objects.filter(profile=profile, is_paused=True).values_list("dag_id", flat=True)
    )
    written, changes = 0, []
    for key, seen in observed.runs.items():
        values = _run_values(seen)
        values["stale_reason"] = _stale_reason(observed, key, key[0] in paused, now)
        row = rows.get(key)
        if row is None:
            row = Run.objects.create(
                profile=profile,
                dag_id=seen.dag_id,
                dag_run_id=seen.dag_run_id,
                conf=seen.conf,
                note=seen.note or "",
                source=Run.Source.AIRFLOW,
                last_polled_at=None if key in observed.deferred else now,
                **values,
            )
            rows[key] = row
            changes.append(StateChange(run=row, to_state=seen.state, observed_at=now))
            written += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if row.last_polled_at is None and key in observed.task_runs:
            changed["last_polled_at"] = now  # its first read: from now on compared, not read
        if not changed:
            continue
        if "state" in changed:
            # A finished run that is active again was cleared (in Airflow: no name known).
            retry = row.state in FINISHED_STATES and seen.state not in FINISHED_STATES
            changes.append(
                StateChange(
                    run=row,
                    from_state=row.state,
                    to_state=seen.state,
                    observed_at=now,
                    retry=retry,
                )
            )
        if key not in observed.deferred:
            changed.setdefault("last_polled_at", now)
        Run.objects.filter(pk=row.pk).update(updated_at=now, **changed)
        for name, value in changed.items():
            setattr(row, name, value)
        written += 1
    StateChange.objects.bulk_create(changes)
    return written + len(changes)


def _stale_reason(observed: Observed, key: RunKey, dag_paused: bool, now: datetime) -> str:
    """Why a run has been queued too long, in plain words ("" when it is not)."""
    if not waited_too_long(observed, key, now):
        return ""
    if observed.health is not None and not observed.health.scheduler_healthy:
        return STALE_SCHEDULER_DOWN
    if dag_paused:
        return STALE_DAG_PAUSED
    return STALE_WAITING


TASK_INSTANCE_FIELDS = [
    "try_number",
    "state",
    "operator",
    "start_date",
    "end_date",
    "duration",
    "display_name",
]
UPDATED_TASK_INSTANCE_FIELDS = [*TASK_INSTANCE_FIELDS, "updated_at"]
# States that end a try: leaving one of them for another state means the task runs again.
TRY_ENDED_STATES = frozenset(
    {"success", "failed", "upstream_failed", "skipped", "up_for_retry", "removed"}
)
# States before a try starts: a try number that went up from them is the same retry.
WAITING_STATES = frozenset({"", "scheduled", "queued"})


def _ti_values(ti: AirflowTaskInstance) -> dict[str, Any]:
    return {
        "try_number": ti.try_number,
        "state": ti.state or "",
        "operator": ti.operator or "",
        "start_date": ti.start_date,
        "end_date": ti.end_date,
        "duration": ti.duration,
        "display_name": ti.display_name if ti.display_name != ti.task_id else "",
    }


def _write_task_instances(observed: Observed, rows: dict[RunKey, Run], now: datetime) -> int:
    """Mirror the task instances read this cycle: insert, update, delete; record changes.

    Only the runs in ``observed.task_runs`` were read; the others keep their rows. A mapped
    task first shows as one placeholder (map index -1) that Airflow replaces with the
    mapped instances; rows Airflow no longer lists are deleted (their changes stay).
    """
    run_ids = {rows[key].pk for key in observed.task_runs}
    known = {
        (t.run_id, t.task_id, t.map_index): t
        for t in TaskInstance.objects.filter(run_id__in=run_ids)
    }
    new, changed_rows, changes, seen_keys = [], [], [], set()
    retried: list[tuple[StateChange, datetime]] = []
    for ti in observed.task_instances:
        run = rows[(ti.dag_id, ti.dag_run_id)]
        values = _ti_values(ti)
        seen_keys.add((run.pk, ti.task_id, ti.map_index))
        row = known.get((run.pk, ti.task_id, ti.map_index))
        if row is None:
            new.append(TaskInstance(run=run, task_id=ti.task_id, map_index=ti.map_index, **values))
            if values["state"]:
                changes.append(_task_change(run, ti, "", now))
            continue
        if all(getattr(row, k) == v for k, v in values.items()):
            continue
        if (row.state, row.try_number) != (values["state"], values["try_number"]):
            change = _task_change(run, ti, row.state, now)
            change.retry = _runs_again(row, values["state"], ti.try_number)
            if change.retry:
                retried.append((change, row.updated_at))
            changes.append(change)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = now  # bulk_update skips auto_now
        changed_rows.append(row)
    _credit_panel_retries(retried)
    gone = [row.pk for key, row in known.items() if key not in seen_keys]
    TaskInstance.objects.filter(pk__in=gone).delete()
    TaskInstance.objects.bulk_create(new)
    TaskInstance.objects.bulk_update(changed_rows, UPDATED_TASK_INSTANCE_FIELDS)
    StateChange.objects.bulk_create(changes)
    return len(new) + len(changed_rows) + len(changes) + len(gone)


def _runs_again(row: TaskInstance, state: str, try_number: int) -> bool:
    """Whether a task instance went back to run again: a retry, from Airflow or the panel.

    A try that had ended left its end state, or the try number went up while the panel
    last saw the task at work (a whole try passed between two polls).
    """
    if row.state in TRY_ENDED_STATES:
        return state not in TRY_ENDED_STATES or try_number > row.try_number
    return try_number > row.try_number and row.state not in WAITING_STATES


def _credit_panel_retries(retried: list[tuple[StateChange, datetime]]) -> None:
    """Name who asked the panel for a retry on the task retries it caused.

    A task retry follows the panel's retry of its run (recorded by the retry service)
    when that came after the panel stored the task's previous state; Airflow's own
    retries (``up_for_retry``) and clears made in Airflow keep no name.
    """
    run_ids = {change.run_id for change, _ in retried if change.from_state != "up_for_retry"}
    if not run_ids:
        return
    panel_retries: dict[int, list[StateChange]] = {}
    for retry in StateChange.objects.filter(
        run_id__in=run_ids, task_id="", retry=True, retry_requested_by__isnull=False
    ).order_by("observed_at"):
        panel_retries.setdefault(retry.run_id, []).append(retry)
    for change, stored_at in retried:
        if change.from_state == "up_for_retry":
            continue
        after = [r for r in panel_retries.get(change.run_id, []) if r.observed_at >= stored_at]
        if after:
            change.retry_requested_by_id = after[-1].retry_requested_by_id


def _task_change(run: Run, ti: AirflowTaskInstance, from_state: str, now: datetime) -> StateChange:
    return StateChange(
        run=run,
        task_id=ti.task_id,
        map_index=ti.map_index,
        try_number=ti.try_number,
        from_state=from_state,
        to_state=ti.state or "",
        observed_at=now,
    )


def _write_missing(not_found: set[RunKey], rows: dict[RunKey, Run]) -> int:
    """Runs we track that Airflow no longer lists: give up on them after a few cycles."""
    written = 0
    for key in not_found:
        row = rows.get(key)
        if row is None:
            continue
        row.missing_polls += 1
        if row.missing_polls >= MISSING_POLLS_BEFORE_GIVING_UP:
            row.is_finished, row.stale_reason = True, GONE_FROM_AIRFLOW
        Run.objects.filter(pk=row.pk).update(
            missing_polls=row.missing_polls,
            is_finished=row.is_finished,
            stale_reason=row.stale_reason,
        )
        written += 1
    return written
