"""Panel roles and team rights: who the user is, and which pages and teams they manage.

Panel admins (superusers) may do everything; audit reviewers read all run history and the
audit trail and nothing else; team admins manage their own team's members and
notifications. Pages whose existence is no secret (the history, the management pages)
answer a signed-in user without the right with 403 and one of the ``*_ONLY`` sentences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import Http404

from controlpanel.models import Team, TeamMembership

from .core import require

# What a 403 says on pages everyone may know exist, in one place.
AUDIT_REVIEWERS_ONLY = (
    "The history is for audit reviewers and panel admins; "
    "ask an admin to give you the auditor role."
)
USER_MANAGERS_ONLY = "Only panel admins manage users; ask a panel admin to add or change one."
PROFILE_MANAGERS_ONLY = (
    "Only panel admins manage connection profiles; ask a panel admin to add or change one."
)
TEAM_MANAGERS_ONLY = (
    "Only panel admins and team admins manage teams; "
    "ask a panel admin or your team's admin for the change you need."
)
TEAM_ADMINS_ONLY = (
    "Only this team's admins and panel admins manage its members, grants and notifications; "
    "ask one of them."
)


@dataclass
class PanelRoles:
    """The user's panel roles and teams; the base every other part of ``Access`` builds on."""

    user: Any
    _memberships: dict[int, str] | None = field(default=None, repr=False)

    # --- who the user is --------------------------------------------------------------

    @property
    def is_authenticated(self) -> bool:
        """False for anonymous visitors and deactivated users."""
        return bool(self.user is not None and self.user.is_authenticated and self.user.is_active)

    @property
    def is_superuser(self) -> bool:
        """Panel admins: everything is allowed."""
        return self.is_authenticated and bool(self.user.is_superuser)

    @property
    def is_auditor(self) -> bool:
        """Audit reviewers: read-only access to all run history and the audit trail."""
        return self.is_authenticated and self.user.has_perm("controlpanel.review_audit")

    @property
    def can_review_audit(self) -> bool:
        """May browse and export the audit trail and every run."""
        return self.is_superuser or self.is_auditor

    @property
    def can_see_overview(self) -> bool:
        """May open the overview of every run (per day, per team, failures): reviewers."""
        return self.can_review_audit

    @property
    def lands_on_overview(self) -> bool:
        """The home page is the overview: audit reviewers in no team (no DAG to list).

        Panel admins and reviewers who are also team members keep the DAG catalog.
        """
        return self.is_auditor and not self.is_superuser and not self.memberships()

    @property
    def can_manage_profiles(self) -> bool:
        """May create, edit, test and delete connection profiles."""
        return self.is_superuser

    @property
    def can_manage_users(self) -> bool:
        """May create, change, deactivate users and set their passwords: panel admins."""
        return self.is_superuser

    def can_manage_tokens_of(self, owner: Any) -> bool:
        """Everyone manages their own API tokens; panel admins anyone's."""
        if not self.is_authenticated or owner is None:
            return False
        return self.is_superuser or owner.pk == self.user.pk

    def require_audit_review(self) -> None:
        """403 saying who may read the history, unless the user may (see ``can_review_audit``)."""
        require(self.can_review_audit, AUDIT_REVIEWERS_ONLY, "not_auditor")

    def require_user_management(self) -> None:
        """403 saying only panel admins manage users, unless the user is one."""
        require(self.can_manage_users, USER_MANAGERS_ONLY, "not_admin")

    def require_profile_management(self) -> None:
        """403 saying only panel admins manage connection profiles, unless the user is one."""
        require(self.can_manage_profiles, PROFILE_MANAGERS_ONLY, "not_admin")

    # --- teams --------------------------------------------------------------------------

    def memberships(self) -> dict[int, str]:
        """team id -> role, for the user's teams."""
        if self._memberships is None:
            if not self.is_authenticated:
                self._memberships = {}
            else:
                self._memberships = dict(
                    TeamMembership.objects.filter(user=self.user).values_list("team_id", "role")
                )
        return self._memberships

    def visible_teams(self) -> QuerySet[Team]:
        """Teams the user may see: all for superusers, else their own."""
        if self.is_superuser:
            return Team.objects.all()
        return Team.objects.filter(pk__in=list(self.memberships()))

    def can_manage_members(self, team: Team) -> bool:
        """Superusers, and the team's own team admins."""
        if self.is_superuser:
            return True
        return self.memberships().get(team.pk) == TeamMembership.Role.ADMIN

    def member_candidates(self, team: Team) -> QuerySet[Any]:
        """The users the member picker offers for ``team``: none unless they manage it.

        Any active account not yet in the team: a team admin could always add anyone by
        username, and a team is often made of people from elsewhere. The picker shows
        usernames and names; e-mail addresses only to those who ``sees_user_emails``.
        """
        users = get_user_model().objects.filter(is_active=True).order_by("username")
        if not self.can_manage_members(team):
            return users.none()
        return users.exclude(team_memberships__team=team)

    @property
    def sees_user_emails(self) -> bool:
        """May read other users' e-mail addresses (panel admins; team admins may not)."""
        return self.is_superuser

    def can_manage_notifications(self, team: Team) -> bool:
        """Subscribe the team to run notifications: whoever manages its members."""
        return self.can_manage_members(team)

    def can_manage_teams(self) -> bool:
        """Create and rename teams, and change their grants: superusers only."""
        return self.is_superuser

    def can_manage_anything(self) -> bool:
        """Panel admins and the admins of at least one team: the "Manage" pages are theirs."""
        return self.is_superuser or TeamMembership.Role.ADMIN in self.memberships().values()

    def require_team_pages(self) -> None:
        """403 saying who manages teams, unless the user manages something."""
        require(self.can_manage_anything(), TEAM_MANAGERS_ONLY, "not_team_admin")

    def get_managed_team(self, slug: str) -> Team:
        """The team if the user manages its members; 403 for a member who does not, else 404.

        Members know their team exists, so they are told who manages it; to anyone else a
        team they do not belong to does not exist.
        """
        team = Team.objects.filter(slug=slug).first()
        if team is None or not (self.is_superuser or team.pk in self.memberships()):
            raise Http404("No such team.")
        require(self.can_manage_members(team), TEAM_ADMINS_ONLY, "not_team_admin")
        return team
