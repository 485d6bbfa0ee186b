"""Run tracking: what the poller saw of task instances, every state change, poll health."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .catalog import Run
from .profiles import AirflowProfile


class TaskInstance(models.Model):
    """The latest observed state of one task instance (task x map index) of a run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="task_instances")
    task_id = models.CharField(max_length=250)
    # The task's display name in Airflow ("" when it has none or it equals the task id).
    display_name = models.CharField(max_length=250, blank=True)
    map_index = models.IntegerField(default=-1)
    try_number = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=30, blank=True)  # "" while Airflow has none
    operator = models.CharField(max_length=100, blank=True)
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "start_date", "task_id", "map_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "task_id", "map_index"], name="one_row_per_task_instance"
            ),
        ]

    def __str__(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.task_id}{index} try {self.try_number}: {self.state or 'none'}"

    @property
    def label(self) -> str:
        """What people call the task: its display name, else its task id."""
        return self.display_name or self.task_id


class StateChange(models.Model):
    """One observed change of a run's or task instance's state, with when we saw it.

    ``task_id`` is empty for the run itself. Every try of every task keeps its changes,
    so the run page can draw a timeline after Airflow pruned its own history. ``retry``
    marks a run or task sent back to run again (a try that had ended started over);
    ``retry_requested_by`` is who asked the panel for it (None: retried in Airflow).
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="state_changes")
    task_id = models.CharField(max_length=250, blank=True)
    map_index = models.IntegerField(default=-1)
    try_number = models.PositiveIntegerField(default=0)
    from_state = models.CharField(max_length=30, blank=True)
    to_state = models.CharField(max_length=30, blank=True)
    observed_at = models.DateTimeField()
    retry = models.BooleanField(default=False)
    retry_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["observed_at", "id"]
        indexes = [models.Index(fields=["run", "observed_at"])]

    def __str__(self) -> str:
        what = self.task_id or "run"
        return f"{what}: {self.from_state or 'none'} -> {self.to_state or 'none'}"


class PollStatus(models.Model):
    """How polling one profile goes: last success, failures and back-off."""

    profile = models.OneToOneField(
        AirflowProfile, on_delete=models.CASCADE, related_name="poll_status"
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    backoff_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_cycle_seconds = models.FloatField(null=True, blank=True)
    last_cycle_requests = models.PositiveIntegerField(null=True, blank=True)
    last_cycle_rows_written = models.PositiveIntegerField(null=True, blank=True)
    scheduler_healthy = models.BooleanField(null=True, blank=True)

    def __str__(self) -> str:
        return f"polling {self.profile}: {self.consecutive_failures} failures"
