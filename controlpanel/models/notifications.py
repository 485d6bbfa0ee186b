"""Notifications: a team's subscriptions to its DAGs' run endings, and each delivery."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db import models

from controlpanel import crypto

from .catalog import Run
from .profiles import AirflowProfile
from .teams import Team


class Subscription(models.Model):
    """A team asks to hear, by email or webhook, when runs of DAGs it may view end.

    Only runs the team may view are ever notified: the scope narrows what the team's
    grants show, never widens it. The webhook secret is Fernet-encrypted and never shown.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook (JSON POST)"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="subscriptions")
    name = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    # Email: the listed addresses, or every team member with an address.
    emails = models.JSONField(default=list, blank=True)
    all_members = models.BooleanField("all team members", default=False)
    # Webhook: where to POST, and the HMAC-SHA256 key of the X-Panel-Signature header.
    url = models.CharField("webhook URL", max_length=500, blank=True)
    secret_encrypted = models.TextField(blank=True, editable=False)
    on_failure = models.BooleanField("when a run fails", default=True)
    on_success = models.BooleanField("when a run succeeds", default=False)
    # Scope: no profile = every Airflow; no ids or patterns = every DAG the team may view.
    profile = models.ForeignKey(
        AirflowProfile,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="subscriptions",
    )
    dag_ids = models.JSONField(default=list, blank=True)
    dag_patterns = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__name", "id"]

    def __str__(self) -> str:
        return f"{self.team}: {self.get_channel_display()} to {self.target_text}"

    def set_secret(self, plaintext: str) -> None:
        """Store a new webhook signing secret, encrypted with the newest key."""
        self.secret_encrypted = crypto.encrypt(plaintext) if plaintext else ""

    def reveal_secret(self) -> str:
        """The decrypted signing secret, for signing a webhook body only."""
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    @property
    def has_secret(self) -> bool:
        """True when a signing secret is stored (shown as "set", never the value)."""
        return bool(self.secret_encrypted)

    @property
    def target_text(self) -> str:
        """Where notifications go, without secrets: addresses or the webhook URL's host."""
        if self.channel == self.Channel.WEBHOOK:
            return urlsplit(self.url).netloc or self.url
        if self.all_members:
            return "all team members"
        return ", ".join(self.emails) or "nobody"

    @property
    def events_text(self) -> str:
        """The events in words: 'failed runs, successful runs'."""
        events = [("failed runs", self.on_failure), ("successful runs", self.on_success)]
        return ", ".join(name for name, wanted in events if wanted) or "nothing"

    @property
    def scope_text(self) -> str:
        """The scope in words: 'every DAG the team may view' or 'ids a; patterns b_*'."""
        parts = []
        if self.dag_ids:
            parts.append("ids " + ", ".join(self.dag_ids))
        if self.dag_patterns:
            parts.append("patterns " + ", ".join(self.dag_patterns))
        dags = "; ".join(parts) or "every DAG the team may view"
        return f"{dags} on {self.profile.name}" if self.profile is not None else dags


class Delivery(models.Model):
    """One notification of one run ending to one subscription, and how sending it went.

    Unique per (subscription, run, event, run end): a run's failure is notified once even
    when the poller sees it twice or two workers race; a run retried and failing again
    ends anew and is notified again.
    """

    class Event(models.TextChoices):
        RUN_FAILED = "run.failed", "Run failed"
        RUN_SUCCEEDED = "run.succeeded", "Run succeeded"
        APPROVAL_REQUESTED = "approval.requested", "Approval requested"
        APPROVAL_DECIDED = "approval.decided", "Approval decided"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    # A run's ending, or an approval request asked for or decided.
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    approval = models.ForeignKey(
        "controlpanel.ApprovalRequest",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    event = models.CharField(max_length=20, choices=Event.choices)
    run_ended_at = models.CharField(max_length=40, blank=True)  # the run's end, ISO 8601
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "run", "event", "run_ended_at"],
                name="one_delivery_per_run_ending",
            ),
            models.UniqueConstraint(
                fields=["subscription", "approval", "event"],
                condition=models.Q(approval__isnull=False),
                name="one_delivery_per_approval_event",
            ),
        ]

    def __str__(self) -> str:
        about = self.run if self.run_id else self.approval
        return f"{self.event} of {about} to {self.subscription}: {self.status}"
