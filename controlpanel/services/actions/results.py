"""What an action came to: done (with what it changed) or approval requested (with the request)."""

from __future__ import annotations

from dataclasses import dataclass

from controlpanel.models import ApprovalRequest, Dag, Run
from controlpanel.permissions import ActionDenied


@dataclass(frozen=True)
class Done:
    """The action happened: the run it started or changed, or the DAG it paused.

    ``created``: a trigger started the run (False: the same Idempotency-Key found it again).
    ``cleared_tasks``: the tasks a retry sent back to Airflow's scheduler.
    """

    run: Run | None = None
    dag: Dag | None = None
    created: bool = True
    cleared_tasks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApprovalRequested:
    """The user's grants put the action behind approval: it was asked for instead.

    ``created``: False when the same Idempotency-Key found the request made before.
    """

    approval: ApprovalRequest
    created: bool = True


ActionResult = Done | ApprovalRequested


def started_run(result: ActionResult) -> Run:
    """The run a trigger started or found; ActionDenied if it was asked for instead.

    For channels that trigger with ``can_wait=False`` (``gate.may_act`` refused the request
    before it was made) and for pages that already told the two results apart.
    """
    if isinstance(result, ApprovalRequested) or result.run is None:
        raise ActionDenied("This run waits for a second person's approval.", "approval_required")
    return result.run
