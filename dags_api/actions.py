"""Changing things in Airflow: pause, trigger, set a run's state, clear failed tasks.

Each call decides whether it may be retried: pausing and setting a state are harmless
twice, a trigger only with a run id of our own (a 409 for it is then "already done"),
a clear never.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from .endpoints import Id
from .errors import AirflowConflict, AirflowNotFound, AirflowValidationError
from .models import ClearedTaskInstance, Dag, DagRun, TriggerResult
from .run_reads import RunReads

DAG_RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.~:+-]+$")
SETTABLE_RUN_STATES = ("success", "failed", "queued")


def new_dag_run_id(prefix: str = "panel") -> str:
    """A unique run id of our own, so a trigger can be retried safely.

    Sorts by time, then 8 random bytes: ``panel__2026-11-24T07:50:01.123456+00:00__a1b2...``
    mirrors Airflow's own ``manual__<timestamp>`` ids.
    """
    stamp = datetime.now(UTC).isoformat()
    return f"{prefix}__{stamp}__{secrets.token_hex(8)}"


class Actions(RunReads):
    """The calls that change Airflow (a trigger reads the run back after a 409)."""

    def set_paused(self, dag_id: str, paused: bool) -> Dag:
        """Pause or unpause a DAG; doing it twice is harmless, so it may be retried."""
        data = self._json(
            "PATCH",
            "dags",
            Id("dag_id", dag_id),
            params={"update_mask": "is_paused"},
            body={"is_paused": paused},
            subject=f"the DAG '{dag_id}'",
        )
        return self.api.parse_dag(data)

    def pause(self, dag_id: str) -> Dag:
        """Pause a DAG: no new runs start until it is unpaused."""
        return self.set_paused(dag_id, True)

    def unpause(self, dag_id: str) -> Dag:
        """Unpause a DAG: queued and scheduled runs start."""
        return self.set_paused(dag_id, False)

    def trigger_dag_run(
        self,
        dag_id: str,
        *,
        conf: dict[str, Any] | None = None,
        dag_run_id: str | None = None,
        logical_date: datetime | None = None,
        note: str | None = None,
    ) -> TriggerResult:
        """Start a run of a DAG with ``conf``.

        With our own ``dag_run_id`` the request is retried on network errors and gateway
        errors, and a 409 for that id with the same conf means an earlier attempt already
        created the run (``already_existed``). Without one it is sent exactly once: a
        retry could start the DAG twice.
        """
        conf = dict(conf or {})
        if dag_run_id is not None and not DAG_RUN_ID_PATTERN.match(dag_run_id):
            raise AirflowValidationError(
                "A run id may only contain letters, digits and _ . ~ : + -",
                detail=f"invalid dag_run_id {dag_run_id!r}",
                status_code=None,
            )
        if logical_date is not None and logical_date.tzinfo is None:
            raise AirflowValidationError(
                "The logical date needs a time zone.",
                detail=f"naive logical_date {logical_date.isoformat()}",
                status_code=None,
            )
        body = self.api.trigger_body(
            conf=conf, dag_run_id=dag_run_id, logical_date=logical_date, note=note
        )
        try:
            data = self._json(
                "POST",
                "dags",
                Id("dag_id", dag_id),
                "dagRuns",
                body=body,
                retry=dag_run_id is not None,
                subject=f"the DAG '{dag_id}'",
            )
        except AirflowConflict as conflict:
            existing = self._earlier_attempt(dag_id, dag_run_id, conf, logical_date)
            if existing is not None:
                return TriggerResult(run=existing, already_existed=True)
            raise self._describe_conflict(conflict, dag_id, dag_run_id, logical_date) from None
        return TriggerResult(run=self.api.parse_dag_run(data))

    def _earlier_attempt(
        self,
        dag_id: str,
        dag_run_id: str | None,
        conf: dict[str, Any],
        logical_date: datetime | None,
    ) -> DagRun | None:
        """The run an earlier attempt of this same trigger created, if the 409 was that."""
        if dag_run_id is None:
            return None
        try:
            run = self.get_dag_run(dag_id, dag_run_id)
        except AirflowNotFound:
            return None  # the clash was the logical date of some other run
        same_date = logical_date is None or run.logical_date == logical_date
        return run if run.conf == conf and same_date else None

    def _describe_conflict(
        self,
        conflict: AirflowConflict,
        dag_id: str,
        dag_run_id: str | None,
        logical_date: datetime | None,
    ) -> AirflowConflict:
        clash = self.api.conflict_clash(conflict.detail)
        if clash == "logical_date" and logical_date is not None:
            message = (
                f"DAG '{dag_id}' already has a run with the logical date "
                f"{logical_date.isoformat()}; each run of a DAG needs its own logical date."
            )
        elif clash == "dag_run_id":
            message = (
                f"DAG '{dag_id}' already has a run with the id '{dag_run_id}' "
                "that was started with a different configuration."
            )
        else:
            message = f"DAG '{dag_id}' already has a run that clashes with this one."
        return AirflowConflict(message, detail=conflict.detail, clash=clash)

    def set_dag_run_state(self, dag_id: str, dag_run_id: str, state: str) -> DagRun:
        """Mark a run success, failed or queued; the same request twice is harmless."""
        if state not in SETTABLE_RUN_STATES:
            raise AirflowValidationError(
                f"A run can only be set to {', '.join(SETTABLE_RUN_STATES)}.",
                detail=f"state {state!r}",
                status_code=None,
            )
        data = self._json(
            "PATCH",
            "dags",
            Id("dag_id", dag_id),
            "dagRuns",
            Id("dag_run_id", dag_run_id),
            body={"state": state},
            subject=f"the run '{dag_run_id}' of DAG '{dag_id}'",
        )
        return self.api.parse_dag_run(data)

    def clear_failed_task_instances(
        self, dag_id: str, dag_run_id: str, *, dry_run: bool = False
    ) -> list[ClearedTaskInstance]:
        """Reset a run's failed and upstream-failed tasks so the scheduler runs them again.

        Not retried: a second clear after a success could reset tasks failing anew.
        """
        data = self._json(
            "POST",
            "dags",
            Id("dag_id", dag_id),
            "clearTaskInstances",
            body=self.api.clear_failed_body(dag_run_id=dag_run_id, dry_run=dry_run),
            retry=False,
            subject=f"the run '{dag_run_id}' of DAG '{dag_id}'",
        )
        return self.api.parse_cleared(data)
