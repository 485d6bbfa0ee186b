"""Noticing run endings: one delivery per subscription that hears of a run that just ended.

The poller calls ``notify_run_endings`` in the transaction that writes the runs; the unique
delivery row makes each ending notified once, however often the poller sees it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from controlpanel.models import AirflowProfile, DagGrant, Delivery, Run, Subscription
from controlpanel.permissions import teams_seeing_dags
from controlpanel.services.notifications.subscriptions import covers_dag

RunKey = tuple[str, str]
EVENT_OF_STATE = {"failed": Delivery.Event.RUN_FAILED, "success": Delivery.Event.RUN_SUCCEEDED}


def notify_run_endings(
    profile: AirflowProfile,
    runs: dict[RunKey, Run],
    finished_before: dict[RunKey, bool],
    now: datetime,
) -> list[int]:
    """Create one delivery per matching subscription for each run that just ended.

    Called by the poller inside the transaction that wrote the runs. A run ended "just now"
    when the poller saw it unfinished before, or sees it for the first time having ended
    within NOTIFY_RECENT_SECONDS (history read on a first poll stays quiet). Returns the
    new deliveries' ids: the caller queues their sending once the transaction commits.
    """
    recent = now - timedelta(seconds=settings.NOTIFY_RECENT_SECONDS)
    ended = [
        run
        for key, run in runs.items()
        if run.is_finished
        and run.state in EVENT_OF_STATE
        and finished_before.get(key) is not True
        and (key in finished_before or (run.end_date or now) >= recent)
    ]
    if not ended:
        return []
    subscriptions = _active_subscriptions(profile)
    if not subscriptions:
        return []
    teams_by_dag = teams_seeing_dags(profile, {run.dag_id for run in ended})
    created = []
    for run in ended:
        event = EVENT_OF_STATE[run.state]
        for sub in subscriptions:
            if _wants(sub, run, event, teams_by_dag[run.dag_id]):
                delivery, new = Delivery.objects.get_or_create(
                    subscription=sub, run=run, event=event, run_ended_at=_ended_key(run)
                )
                if new:
                    created.append(delivery.pk)
    return created


def _active_subscriptions(profile: AirflowProfile) -> list[Subscription]:
    """Active subscriptions of teams with a grant on the profile, scoped to it or to all."""
    teams = DagGrant.objects.filter(profile=profile).values("team_id")
    subs = Subscription.objects.filter(is_active=True, team_id__in=teams).select_related("team")
    return [sub for sub in subs if sub.profile_id in (None, profile.pk)]


def _wants(sub: Subscription, run: Run, event: str, teams: set[int]) -> bool:
    """The team may view the run's DAG, and the subscription asks for this event and DAG."""
    if sub.team_id not in teams:
        return False
    if event == Delivery.Event.RUN_FAILED and not sub.on_failure:
        return False
    if event == Delivery.Event.RUN_SUCCEEDED and not sub.on_success:
        return False
    return covers_dag(sub, run.dag_id)


def _ended_key(run: Run) -> str:
    return run.end_date.isoformat() if run.end_date else "unknown"
