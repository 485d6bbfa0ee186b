"""What the run page's live part shows: task rows and timeline entries, in people's words.

``task_labels`` is read in controlpanel.selectors.runs and named here for the run views.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlpanel.models import StateChange, TaskInstance
from controlpanel.selectors.runs import task_labels as task_labels
from controlpanel.views.listing import STATE_WORDS, Badge, badge

FAILED_TASK_STATES = ("failed", "upstream_failed", "up_for_retry")
# Task states that end a task without it running (when Airflow gave it no start).
NOT_RUN_STATES = ("upstream_failed", "skipped", "removed")
# States a retried task passes through before it runs: its timeline says "Queued again".
WAITING_STATES = ("", "scheduled", "queued")


@dataclass
class TaskRow:
    """One task instance as the table shows it."""

    ti: TaskInstance
    badge: Badge

    @property
    def failed(self) -> bool:
        """Failed tasks come first and offer their log tail."""
        return self.ti.state in FAILED_TASK_STATES

    @property
    def ran(self) -> bool:
        """Whether the task started a try: only then do its times and duration mean anything.

        Airflow stamps tasks it skips or marks upstream-failed with a start, an end and a
        zero duration although they never ran; a try number of 0 gives them away.
        """
        if self.ti.start_date is None:
            return False
        return not (self.ti.state in NOT_RUN_STATES and self.ti.try_number == 0)

    @property
    def not_run_words(self) -> str:
        """Why the task has no times: it will not run, or it has not started yet."""
        return "did not run" if self.ti.state in NOT_RUN_STATES else "not started yet"

    @property
    def tries(self) -> list[int]:
        """Every try that has a log (1 .. try_number)."""
        return list(range(1, self.ti.try_number + 1))

    @property
    def key(self) -> str:
        """A DOM-safe id for the log tail target."""
        return f"{self.ti.pk}"


def task_rows(tis: list[TaskInstance]) -> list[TaskRow]:
    """The run's task rows: failed first, then by start (not started last) and task id."""
    rows = [TaskRow(ti, badge(ti.state)) for ti in tis]
    rows.sort(key=_task_order)
    return rows


def _task_order(row: TaskRow) -> tuple[bool, float, str, int]:
    started = row.ti.start_date.timestamp() if row.ti.start_date else float("inf")
    return (not row.failed, started, row.ti.task_id, row.ti.map_index)


@dataclass
class TimelineEntry:
    """One line of the timeline: when, what changed (the run or a task), and how, in words."""

    change: StateChange
    task_label: str  # the task's display name ("" for the run itself)
    badge: Badge

    @property
    def from_words(self) -> str:
        """The state before, in words ("" when there was none)."""
        state = self.change.from_state
        return STATE_WORDS.get(state, state.replace("_", " ").capitalize()) if state else ""

    @property
    def retry_words(self) -> str:
        """For a retry: "Queued again (retry by alice)" and the like; else ""."""
        if not self.change.retry:
            return ""
        if self.change.retry_requested_by is not None:
            why = f"retry by {self.change.retry_requested_by.get_username()}"
        elif self.change.from_state == "up_for_retry":
            why = "automatic retry"
        else:
            why = "retried in Airflow"
        return f"Queued again ({why})"

    @property
    def shows_new_state(self) -> bool:
        """A retry seen only once the task was at work again also says its new state."""
        return not self.change.retry or self.change.to_state not in WAITING_STATES


def timeline(changes: list[StateChange], tis: list[TaskInstance]) -> list[TimelineEntry]:
    """The run's state changes, oldest first, with tasks by their display names."""
    labels = {ti.task_id: ti.label for ti in tis}
    return [
        TimelineEntry(
            change,
            labels.get(change.task_id, change.task_id) if change.task_id else "",
            badge(change.to_state),
        )
        for change in changes
    ]
