"""Polling Airflow for the runs the panel tracks, and keeping their history.

One cycle per profile: ``reading`` asks Airflow, with batch requests only, for every active
run (one request per 100 runs), the runs that finished since the last cycle (one more), and
the task instances of only the runs that can have changed (one request per 100 task
instances): running ones, ones whose state or dates moved since our stored row, and each
run's first and last read. A queued run that did not move costs nothing more; the first
reads of queued runs share what is left of the cycle's budget (``request_budget``), oldest
first, and wait for the next cycle beyond it. Then ``writing`` writes, in one transaction,
only the rows that changed plus one ``StateChange`` per observed change. A worker killed
mid-cycle leaves nothing half-written: the transaction rolls back and the next cycle
catches up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from controlpanel import metrics
from controlpanel.airflow_clients import client_for
from controlpanel.models import AirflowProfile, PollStatus
from controlpanel.services.tracking.reading import Observed, read_airflow, request_budget
from controlpanel.services.tracking.writing import (
    GONE_FROM_AIRFLOW,
    STALE_DAG_PAUSED,
    STALE_SCHEDULER_DOWN,
    STALE_WAITING,
    apply_observed,
)
from dags_api import AirflowClient, AirflowError

__all__ = [
    "GONE_FROM_AIRFLOW",
    "STALE_DAG_PAUSED",
    "STALE_SCHEDULER_DOWN",
    "STALE_WAITING",
    "PollCycle",
    "apply_observed",
    "poll_profile",
    "read_airflow",
    "request_budget",
]


@dataclass
class PollCycle:
    """What one poll of one profile did, for logs, metrics and the benchmark."""

    profile_slug: str
    requests: int = 0
    runs_seen: int = 0
    rows_written: int = 0
    seconds: float = 0.0
    skipped: str = ""
    error: str = ""
    # Notifications of runs that ended, committed with the cycle: the caller queues them.
    deliveries: list[int] = field(default_factory=list)


def poll_profile(profile: AirflowProfile) -> PollCycle:
    """One poll cycle for one profile, respecting its back-off after failures (and metered).

    The notifications of runs that ended are written, not sent: queue ``cycle.deliveries``.
    """
    started = time.monotonic()
    cycle = _poll_cycle(profile)
    outcome = "skipped" if cycle.skipped else "failed" if cycle.error else "ok"
    metrics.record_poll_cycle(profile.slug, outcome, time.monotonic() - started)
    return cycle


def _poll_cycle(profile: AirflowProfile) -> PollCycle:
    started = time.monotonic()
    now = timezone.now()
    status, _ = PollStatus.objects.get_or_create(profile=profile)
    cycle = PollCycle(profile.slug)
    if status.backoff_until and status.backoff_until > now:
        cycle.skipped = f"backing off until {status.backoff_until.isoformat()}"
        return cycle
    client = client_for(profile)
    counted_from = client.transport.request_count
    try:
        observed = read_airflow(profile, client, status, now)
    except AirflowError as exc:
        cycle.requests = client.transport.request_count - counted_from
        cycle.error = exc.user_message
        _record_failure(status, exc, now)
        return cycle
    cycle.requests = client.transport.request_count - counted_from
    cycle.runs_seen = len(observed.runs)
    try:
        with transaction.atomic():
            cycle.rows_written, cycle.deliveries = apply_observed(profile, observed, now)
            _remember_api_version(profile, client)
            cycle.seconds = time.monotonic() - started
            _record_success(status, cycle, observed, now)
    except IntegrityError as exc:
        # A trigger committed the same run between our read and our write: nothing was
        # written, and the next cycle sees the run as ours.
        cycle.rows_written, cycle.deliveries = 0, []
        cycle.error = f"skipped writing this cycle: {exc}"
    return cycle


def _remember_api_version(profile: AirflowProfile, client: AirflowClient) -> None:
    """A profile set to "detect" keeps what the client found (links to Airflow's UI use it)."""
    known = client.known_api_version
    if profile.api_version == AirflowProfile.ApiVersion.AUTO and known is not None:
        AirflowProfile.objects.filter(pk=profile.pk, api_version=profile.api_version).update(
            api_version=known
        )
        profile.api_version = known


def _record_success(
    status: PollStatus, cycle: PollCycle, observed: Observed, now: datetime
) -> None:
    status.last_success_at = status.last_attempt_at = now
    status.consecutive_failures = 0
    status.backoff_until = None
    status.last_error = ""
    status.last_cycle_seconds = cycle.seconds
    status.last_cycle_requests = cycle.requests
    status.last_cycle_rows_written = cycle.rows_written
    if observed.health is not None:
        status.scheduler_healthy = observed.health.scheduler_healthy
    status.save()


def _record_failure(status: PollStatus, exc: AirflowError, now: datetime) -> None:
    """Back off this profile only: 5 s, 10 s, 20 s ... up to POLL_BACKOFF_MAX_SECONDS."""
    status.consecutive_failures += 1
    delay = min(settings.POLL_BACKOFF_MAX_SECONDS, 5 * 2 ** (status.consecutive_failures - 1))
    status.backoff_until = now + timedelta(seconds=delay)
    status.last_attempt_at = now
    status.last_error = exc.user_message
    status.save()
