"""What the panel knows of Airflow: the DAG catalog and the runs it tracks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models

from .profiles import AirflowProfile


def _tag_in_index(tag: str) -> str:
    """A tag as it stands in ``tag_index``: ``%`` and ``|`` written as ``%25`` and ``%7C``,
    so a tag holding ``|`` (``zz|sectag``) never reads as two tags (``zz``, ``sectag``)."""
    return tag.replace("%", "%25").replace("|", "%7C")


def tag_index_for(tags: Iterable[str]) -> str:
    """Tags as ``|a|b|`` so one indexed text column answers "carries tag t".

    Kept by ``Dag.save`` (and rewritten by migration 0016); read by
    ``controlpanel.permissions.matching.carries_tag``.
    """
    ordered = sorted({_tag_in_index(tag) for tag in tags})
    return "|" + "|".join(ordered) + "|" if ordered else ""


class Dag(models.Model):
    """A DAG of one profile, as last read from Airflow (catalog pages read this, not Airflow)."""

    profile = models.ForeignKey(AirflowProfile, on_delete=models.CASCADE, related_name="dags")
    dag_id = models.CharField(max_length=250)
    display_name = models.CharField(max_length=250, blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    tag_index = models.CharField(max_length=2000, blank=True, db_index=True)
    is_paused = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    owners = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)
    # The params' names in the order the DAG's author wrote them: PostgreSQL's jsonb does
    # not keep the keys' order of ``params``, and Airflow 2 sends them sorted anyway.
    param_order = models.JSONField(default=list, blank=True)
    doc_md = models.TextField(blank=True)
    has_import_errors = models.BooleanField(default=False)
    import_errors = models.TextField(blank=True)
    fileloc = models.CharField(max_length=1000, blank=True)
    # Airflow's last parse of the DAG's file as of the last check of params and doc_md, and
    # the sha256 of that file's source then: a later parse of an unchanged file is no change.
    last_parsed_at = models.DateTimeField(null=True, blank=True)
    source_digest = models.CharField(max_length=64, blank=True)
    params_synced_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["profile__name", "dag_id"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "dag_id"], name="one_dag_per_profile"),
        ]

    def __str__(self) -> str:
        return f"{self.dag_id} ({self.profile.slug})"

    def save(self, *args: object, **kwargs: object) -> None:
        self.tag_index = tag_index_for(self.tags)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        """The name people know the DAG by."""
        return self.display_name or self.dag_id

    @property
    def ordered_params(self) -> dict[str, Any]:
        """``params`` in the order the DAG's author wrote them (``param_order``).

        Params that order does not name follow in their stored order; names it has that are
        no longer params are skipped. Forms and the API list params in this order.
        """
        params: dict[str, Any] = self.params or {}
        order = self.param_order if isinstance(self.param_order, list) else []
        named = {name: params[name] for name in order if isinstance(name, str) and name in params}
        return named | {name: value for name, value in params.items() if name not in named}


class Run(models.Model):
    """A DAG run the panel knows of: triggered here, or seen in Airflow."""

    class Source(models.TextChoices):
        WEB = "web", "Panel (web)"
        API = "api", "Panel (API)"
        AIRFLOW = "airflow", "Airflow (schedule or Airflow UI)"

    profile = models.ForeignKey(AirflowProfile, on_delete=models.CASCADE, related_name="runs")
    dag_id = models.CharField(max_length=250)
    dag_run_id = models.CharField(max_length=250)
    state = models.CharField(max_length=20, default="queued")
    conf = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    logical_date = models.DateTimeField(null=True, blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="triggered_runs",
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    # A run started once someone approved the request (the two-person rule).
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="approved_runs",
    )
    approval_request = models.OneToOneField(
        "controlpanel.ApprovalRequest",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="run",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Tracking: a finished run leaves the poll set; clearing it for a retry brings it back.
    is_finished = models.BooleanField(default=False, db_index=True)
    missing_polls = models.PositiveSmallIntegerField(default=0)
    stale_reason = models.CharField(max_length=200, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "dag_id", "dag_run_id"], name="one_run_per_id"
            ),
        ]
        indexes = [
            models.Index(fields=["profile", "dag_id", "-created_at"]),
            # The overview counts runs by day over the last weeks, and lists recent failures.
            models.Index(fields=["created_at"], name="run_created_at"),
            models.Index(fields=["state", "created_at"], name="run_state_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.dag_id} {self.dag_run_id} ({self.state})"
