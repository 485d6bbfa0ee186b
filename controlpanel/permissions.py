"""The one place that decides who may do what. Views, API, templates and tasks ask here.

Rights come from team grants (team x profile x DAG selector x level); a user's rights are
the union of their teams' grants. Superusers may do everything; audit reviewers may read
all run history and the audit trail and nothing else. Someone who may not see a DAG or a
run gets the same answer as for one that does not exist (404). Pages whose existence is
no secret (the history, the management pages) answer a signed-in user without the right
with 403 and a sentence saying what is missing (the ``*_ONLY`` messages below).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from controlpanel.models import (
    LEVEL_RANK,
    AirflowProfile,
    ApprovalRequest,
    Dag,
    DagGrant,
    Level,
    Run,
    Team,
    TeamMembership,
)

APP = "controlpanel"


class DagAction(StrEnum):
    """What someone may want to do with a DAG or its runs, and the level it needs."""

    VIEW = "view"  # the DAG, its runs, task states and logs
    TRIGGER = "trigger"
    PAUSE = "pause"  # pause and unpause
    RETRY = "retry"  # clear failed tasks so they run again
    SET_RUN_STATE = "set_run_state"


ACTION_LEVEL: dict[DagAction, Level] = {
    DagAction.VIEW: Level.VIEW,
    DagAction.TRIGGER: Level.TRIGGER,
    DagAction.PAUSE: Level.OPERATE,
    DagAction.RETRY: Level.OPERATE,
    DagAction.SET_RUN_STATE: Level.OPERATE,
}
LEVELS_BY_RANK = sorted(LEVEL_RANK, key=LEVEL_RANK.__getitem__)
# What a grant can put behind a second person's approval.
APPROVABLE = (DagAction.TRIGGER, DagAction.PAUSE, DagAction.RETRY)


class ActionDenied(PermissionDenied):
    """The user may see the thing but not do this to it (403, audited as denied).

    A ``PermissionDenied``, so Django's views and the API answer 403 without a translation;
    ``code`` is the API's error code for it.
    """

    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


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


def require(allowed: bool, message: str, code: str = "forbidden") -> None:
    """Raise ActionDenied with ``message`` unless ``allowed``.

    Inside ``controlpanel.audit.audited`` the refusal is recorded as denied.
    """
    if not allowed:
        raise ActionDenied(message, code)


@dataclass
class Access:
    """One user's rights, loaded once (one query for grants) and reused for a request."""

    user: Any
    _grants: list[DagGrant] | None = field(default=None, repr=False)
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

    # --- DAGs -----------------------------------------------------------------------------

    def grants(self) -> list[DagGrant]:
        """Every grant of every team the user belongs to."""
        if self._grants is None:
            if not self.is_authenticated:
                self._grants = []
            else:
                self._grants = list(
                    DagGrant.objects.filter(team__memberships__user=self.user)
                    .select_related("profile")
                    .distinct()
                )
        return self._grants

    def dag_level(
        self, profile: AirflowProfile | int, dag_id: str, tags: Iterable[str] = ()
    ) -> Level | None:
        """The highest level the user holds on one DAG, or None when they may not see it."""
        if self.is_superuser:
            return Level.OPERATE
        profile_id = profile if isinstance(profile, int) else profile.pk
        tag_list = list(tags)
        best: Level | None = None
        for grant in self.grants():
            if grant.profile_id == profile_id and grant.matches(dag_id, tag_list):
                level = Level(grant.level)
                if best is None or LEVEL_RANK[level] > LEVEL_RANK[best]:
                    best = level
        return best

    def dag_permissions(self, dag: Dag) -> list[str]:
        """The levels the user holds on a DAG, lowest first: ["view", "trigger"]."""
        level = self.dag_level(dag.profile_id, dag.dag_id, dag.tags)
        if level is None:
            return []
        return [lv.value for lv in LEVELS_BY_RANK if LEVEL_RANK[lv] <= LEVEL_RANK[level]]

    def can(self, action: DagAction, dag: Dag) -> bool:
        """May the user do ``action`` on this DAG (and its runs)?"""
        level = self.dag_level(dag.profile_id, dag.dag_id, dag.tags)
        return level is not None and LEVEL_RANK[level] >= LEVEL_RANK[ACTION_LEVEL[action]]

    def visible_dags(self, profile: AirflowProfile | None = None) -> QuerySet[Dag]:
        """The catalog DAGs the user may see, as one query however many DAGs there are."""
        dags = Dag.objects.select_related("profile").filter(profile__is_active=True)
        if profile is not None:
            dags = dags.filter(profile=profile)
        if self.is_superuser:
            return dags
        grants = self.grants()
        if not grants:
            return dags.none()
        selected = Q(pk__in=[])
        for grant in grants:
            selected |= grant.dag_filter()
        return dags.filter(selected)

    def visible_profiles(self) -> QuerySet[AirflowProfile]:
        """Profiles the user has a grant on (all for superusers)."""
        if self.is_superuser:
            return AirflowProfile.objects.all()
        return AirflowProfile.objects.filter(pk__in={g.profile_id for g in self.grants()})

    def visible_runs(self) -> QuerySet[Run]:
        """Runs the user may see: of visible DAGs, or every run for audit reviewers."""
        runs = Run.objects.select_related("profile", "triggered_by", "approved_by")
        if self.can_review_audit:
            return runs
        same_dag = self.visible_dags().filter(
            profile_id=OuterRef("profile_id"), dag_id=OuterRef("dag_id")
        )
        return runs.filter(Exists(same_dag))

    # --- approvals (the two-person rule) ----------------------------------------------------

    def approval_grants(self, dag: Dag, action: DagAction = DagAction.TRIGGER) -> list[DagGrant]:
        """The grants whose approvers must agree before the user does ``action``; [] if none.

        Rights stay the union of grants: one grant letting the user act without approval
        is enough. Panel admins need approval when any grant on the DAG requires it, unless
        APPROVAL_ADMINS_EXEMPT. Triggering needs approval through ``requires_approval``;
        pausing and retrying only where the grant also has ``approval_for_operate``.
        """
        if action not in APPROVABLE:
            return []
        needed = LEVEL_RANK[ACTION_LEVEL[action]]

        def gated(grant: DagGrant) -> bool:
            return grant.requires_approval and (
                action == DagAction.TRIGGER or grant.approval_for_operate
            )

        def selects(grant: DagGrant) -> bool:
            return (
                grant.profile_id == dag.profile_id
                and grant.matches(dag.dag_id, dag.tags)
                and LEVEL_RANK[Level(grant.level)] >= needed
            )

        mine = [g for g in self.grants() if selects(g)]
        if any(not gated(g) for g in mine):
            return []
        if self.is_superuser:
            if settings.APPROVAL_ADMINS_EXEMPT:
                return []
            requiring = DagGrant.objects.filter(profile_id=dag.profile_id, requires_approval=True)
            mine = [g for g in requiring if selects(g) and gated(g)]
        return mine

    def needs_approval(self, dag: Dag, action: DagAction = DagAction.TRIGGER) -> bool:
        """True when the user may do ``action`` on the DAG only through an approved request."""
        return bool(self.approval_grants(dag, action))

    def approves_for(self) -> set[int]:
        """Ids of the teams whose approval requests the user decides (their own teams)."""
        return set(self.memberships())

    def may_see_approval(self, approval: ApprovalRequest) -> bool:
        """The requester, the approvers of the request, audit reviewers and panel admins."""
        if not self.is_authenticated:
            return False
        if self.can_review_audit or approval.requested_by_id == self.user.pk:
            return True
        teams = {t.pk for t in approval.approver_teams.all()}
        return bool(teams & self.approves_for())

    def may_decide_approval(self, approval: ApprovalRequest) -> bool:
        """Approvers of the request (and panel admins), never the person who asked."""
        if not self.is_authenticated or approval.requested_by_id == self.user.pk:
            return False
        if self.is_superuser:
            return True
        teams = {t.pk for t in approval.approver_teams.all()}
        return bool(teams & self.approves_for())

    def visible_approvals(self) -> QuerySet[ApprovalRequest]:
        """The approval requests the user may see, as one query."""
        requests = ApprovalRequest.objects.select_related("profile", "requested_by", "decided_by")
        if not self.is_authenticated:
            return requests.none()
        if self.can_review_audit:
            return requests
        theirs = Q(requested_by=self.user)
        approving = Exists(
            ApprovalRequest.approver_teams.through.objects.filter(
                approvalrequest_id=OuterRef("pk"), team_id__in=list(self.approves_for())
            )
        )
        return requests.filter(theirs | approving)

    def approvals_to_decide(self) -> QuerySet[ApprovalRequest]:
        """Pending requests the user may approve or reject (the navigation's badge).

        One query: the approver teams are joined, not read first.
        """
        if not self.is_authenticated:
            return ApprovalRequest.objects.none()
        pending = ApprovalRequest.objects.filter(state=ApprovalRequest.State.PENDING).exclude(
            requested_by=self.user
        )
        if self.is_superuser:
            return pending
        approving = Exists(
            TeamMembership.objects.filter(user=self.user, team__approval_requests=OuterRef("pk"))
        )
        return pending.filter(approving)

    def get_approval(self, approval_id: int) -> ApprovalRequest:
        """The approval request if the user may see it, else 404."""
        approval = self.visible_approvals().filter(pk=approval_id).first()
        if approval is None:
            raise Http404("No such approval request.")
        return approval

    def get_dag(self, profile_slug: str, dag_id: str, action: DagAction = DagAction.VIEW) -> Dag:
        """The DAG if the user may see it (else 404) and do ``action`` (else ActionDenied)."""
        dag = (
            Dag.objects.select_related("profile")
            .filter(profile__slug=profile_slug, profile__is_active=True, dag_id=dag_id)
            .first()
        )
        if dag is None or not self.can(DagAction.VIEW, dag):
            raise Http404("No such DAG.")
        if not self.can(action, dag):
            needed = ACTION_LEVEL[action].value
            raise ActionDenied(
                f"You may see {dag.dag_id} but not {action.value.replace('_', ' ')} it: "
                f"that needs the '{needed}' level."
            )
        return dag


def access_for(user: Any) -> Access:
    """The user's ``Access``, cached on the user object for the rest of the request."""
    cached = getattr(user, "_panel_access", None)
    if isinstance(cached, Access):
        return cached
    access = Access(user)
    if user is not None:
        with contextlib.suppress(AttributeError):
            user._panel_access = access
    return access


def is_auditor_expression(user_ref: Any = None) -> Exists:
    """True for users who hold the audit-reviewer permission (as ``Access.is_auditor``).

    For lists of users: annotate with it instead of asking each user (one query).
    """
    user_ref = user_ref if user_ref is not None else OuterRef("pk")
    held = Q(group__user=user_ref) | Q(user=user_ref)
    return Exists(
        Permission.objects.filter(held, codename="review_audit", content_type__app_label=APP)
    )


def teams_seeing_dags(profile: AirflowProfile, dag_ids: Iterable[str]) -> dict[str, set[int]]:
    """dag id -> ids of the teams whose grants let them view that DAG of ``profile``.

    Two queries however many DAGs: the profile's grants and the DAGs' catalog tags.
    """
    wanted = set(dag_ids)
    grants = list(DagGrant.objects.filter(profile=profile))
    tags = dict(
        Dag.objects.filter(profile=profile, dag_id__in=wanted).values_list("dag_id", "tags")
    )
    return {
        dag_id: {g.team_id for g in grants if g.matches(dag_id, tags.get(dag_id) or [])}
        for dag_id in wanted
    }
