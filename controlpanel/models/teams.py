"""Teams, their members and their grants on DAGs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from .profiles import AirflowProfile


class Level(models.TextChoices):
    """What a grant allows on the DAGs it selects; each level includes the ones below."""

    VIEW = "view", "View: see the DAG, its runs, task states and logs"
    TRIGGER = "trigger", "Trigger: view, plus start runs with a configuration"
    OPERATE = "operate", "Operate: trigger, plus pause, retry failed tasks and set run states"


LEVEL_RANK = {Level.VIEW: 1, Level.TRIGGER: 2, Level.OPERATE: 3}


DIRECTORY_GROUPS_LIMIT = 100
DIRECTORY_GROUP_MAX_CHARS = 1000


def validate_directory_groups(value: Any) -> None:
    """Refuse anything but a short list of group names or DNs (plain strings)."""
    if not isinstance(value, list) or not all(isinstance(group, str) for group in value):
        raise ValidationError("Directory groups must be a list of group names or DNs.")
    if len(value) > DIRECTORY_GROUPS_LIMIT:
        raise ValidationError(f"A team maps at most {DIRECTORY_GROUPS_LIMIT} directory groups.")
    for group in value:
        if not group.strip() or len(group) > DIRECTORY_GROUP_MAX_CHARS:
            raise ValidationError(
                f"A directory group is a name or DN of 1 to {DIRECTORY_GROUP_MAX_CHARS} characters."
            )


class Team(models.Model):
    """A group of people who share access to some DAGs.

    ``directory_groups``: members of these directory groups (names or DNs) join the team
    when they sign in through the directory, and leave it when they no longer have any.
    """

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    description = models.TextField(blank=True)
    directory_groups = models.JSONField(
        default=list, blank=True, validators=[validate_directory_groups]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """A user's place in a team: a member, or a team admin who manages the members.

    ``source`` keeps memberships added by hand apart from those the directory sync made:
    the sync only ever removes its own.
    """

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        ADMIN = "admin", "Team admin"

    class Source(models.TextChoices):
        MANUAL = "manual", "Added by hand"
        DIRECTORY = "directory", "From a directory group"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class DagGrant(models.Model):
    """A team's access to the DAGs of one profile chosen by ids, glob patterns or tags.

    A DAG is selected when its id is listed, matches a pattern, or carries a listed tag
    (the rule itself, in SQL and in Python, is ``controlpanel.permissions.matching``).
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="grants")
    profile = models.ForeignKey(AirflowProfile, on_delete=models.CASCADE, related_name="grants")
    dag_ids = models.JSONField(default=list, blank=True)
    dag_patterns = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.VIEW)
    # Two-person rule: triggering through this grant needs a member of approver_team to agree.
    requires_approval = models.BooleanField(default=False)
    approver_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="approval_grants",
    )
    # With requires_approval: pausing, unpausing and retrying through this grant need it too.
    approval_for_operate = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "profile__name", "id"]

    def __str__(self) -> str:
        return f"{self.team} may {self.level} {self.selector_text} on {self.profile}"

    @property
    def selector_text(self) -> str:
        """The selector in words: 'ids a, b; patterns finance_*; tags etl'."""
        parts = []
        if self.dag_ids:
            parts.append("ids " + ", ".join(self.dag_ids))
        if self.dag_patterns:
            parts.append("patterns " + ", ".join(self.dag_patterns))
        if self.tags:
            parts.append("tags " + ", ".join(self.tags))
        return "; ".join(parts) or "no DAGs"

    def as_payload(self) -> dict[str, Any]:
        """The grant as audit payload."""
        return {
            "team": self.team.slug,
            "profile": self.profile.slug,
            "level": self.level,
            "dag_ids": self.dag_ids,
            "dag_patterns": self.dag_patterns,
            "tags": self.tags,
            "requires_approval": self.requires_approval,
            "approver_team": self.approver_team.slug if self.approver_team else None,
            "approval_for_operate": self.approval_for_operate,
        }
