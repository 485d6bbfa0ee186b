"""The panel's actions as tests use them to set the scene: a run started, tasks retried."""

from __future__ import annotations

from typing import Any

from controlpanel.audit import Actor
from controlpanel.models import Dag, Run
from controlpanel.services import actions


def start_run(actor: Actor, dag: Dag, **wish: Any) -> Run:
    """Trigger ``dag`` through the one trigger action (``wish``: TriggerInput's fields)."""
    return actions.started_run(actions.trigger(actor, dag, actions.TriggerInput(**wish)))


def retry_run(actor: Actor, run: Run) -> list[str]:
    """Retry the run's failed tasks through the retry action; the task ids it cleared."""
    result = actions.retry(actor, run)
    assert isinstance(result, actions.Done), "the retry was put behind approval"
    return list(result.cleared_tasks)
