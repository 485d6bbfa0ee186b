"""What people do to DAGs and runs: one function per action, for every channel.

The web pages, the panel's API, the Airflow-compatible API and approved requests all call
these and nothing below them: ``trigger``, ``set_paused`` (pause and unpause), ``retry``
(also Airflow's "clear": the failed tasks run again), ``set_run_state`` and ``approve``.
Each checks access once (``gate.may_act``), checks its input, decides between doing it and
asking for approval, writes its audit event with the change, and returns one result:
``Done`` or ``ApprovalRequested``.
"""

from controlpanel.services.actions.approved import approve
from controlpanel.services.actions.operate import retry, set_paused, set_run_state
from controlpanel.services.actions.results import ActionResult, ApprovalRequested, Done, started_run
from controlpanel.services.actions.triggering import TriggerInput, trigger

__all__ = [
    "ActionResult",
    "ApprovalRequested",
    "Done",
    "TriggerInput",
    "approve",
    "retry",
    "set_paused",
    "set_run_state",
    "started_run",
    "trigger",
]
