"""Teams, their members and grants, and the audit reviewer role.

Panel admins create teams and decide their grants; a team's own team admins manage its
members. Every attempt is audited, denied and refused ones too (``audit.audited``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError

from controlpanel.audit import Actor, audited
from controlpanel.models import (
    AUDITORS_GROUP,
    AirflowProfile,
    Dag,
    DagGrant,
    Level,
    Team,
    TeamMembership,
)
from controlpanel.permissions import access_for, dags_granted_by, require
from controlpanel.services import lock_row

TEAM_FIELDS = ("name", "slug", "description")
# What update_team may change: the fields above plus the directory groups mapped to the team.
UPDATABLE_TEAM_FIELDS = (*TEAM_FIELDS, "directory_groups")
# Airflow's own rule for DAG ids; patterns may add the glob characters * and ?.
DAG_ID_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
DAG_PATTERN_RE = re.compile(r"^[A-Za-z0-9_.*?-]+$")

ONLY_ADMINS = "Only panel administrators may create teams, rename them or change their grants."
ONLY_MEMBER_MANAGERS = "Only panel administrators and this team's team admins manage its members."
ONLY_SUPERUSERS_AUDITORS = "Only panel administrators may choose the audit reviewers."
LAST_ADMIN = (
    "You are the last team admin of {team}: make someone else team admin first, "
    "or ask a panel administrator."
)


# --- checks shared by every change -----------------------------------------------------


def ensure_may_manage_teams(actor: Actor, action: str, payload: dict[str, Any]) -> None:
    """Raise ActionDenied, recorded as denied, unless the actor may change teams and grants.

    For views that must refuse a POST before they can even parse its form.
    """
    with audited(actor, action, payload=payload, check_only=True):
        require(access_for(actor.user).can_manage_teams(), ONLY_ADMINS)


# --- teams -------------------------------------------------------------------------------


def create_team(
    actor: Actor,
    *,
    name: str,
    slug: str,
    description: str = "",
    directory_groups: Iterable[str] = (),
) -> Team:
    """Add a team (panel admins only); raises ValidationError for a taken name or slug."""
    team = Team(
        name=name.strip(),
        slug=slug.strip(),
        description=description.strip(),
        directory_groups=clean_selector(directory_groups),
    )
    payload: dict[str, Any] = {field: getattr(team, field) for field in TEAM_FIELDS}
    if team.directory_groups:
        payload["directory_groups"] = team.directory_groups
    with audited(actor, "team.create", payload=payload, failed=(ValidationError,)):
        require(access_for(actor.user).can_manage_teams(), ONLY_ADMINS)
        team.full_clean()
        team.save()
    return team


def update_team(actor: Actor, team: Team, **fields: Any) -> Team:
    """Rename a team, change its description or its directory groups (panel admins only).

    On refusal (ValidationError) the team object is left as it was.
    """
    unknown = set(fields) - set(UPDATABLE_TEAM_FIELDS)
    if unknown:
        raise TypeError(f"update_team() got unknown fields: {', '.join(sorted(unknown))}")
    if "directory_groups" in fields:
        fields["directory_groups"] = clean_selector(fields["directory_groups"])
    before = {field: getattr(team, field) for field in UPDATABLE_TEAM_FIELDS}
    payload = {"team": team.slug}
    with audited(actor, "team.update", payload=payload, failed=(ValidationError,)) as event:
        require(access_for(actor.user).can_manage_teams(), ONLY_ADMINS)
        for field, value in fields.items():
            setattr(team, field, value.strip() if isinstance(value, str) else value)
        changed = {
            f: getattr(team, f) for f in UPDATABLE_TEAM_FIELDS if getattr(team, f) != before[f]
        }
        event.payload = {"team": before["slug"], **changed}
        try:
            team.full_clean()
        except ValidationError:
            for field, value in before.items():
                setattr(team, field, value)
            raise
        team.save()
    return team


def delete_team(actor: Actor, team: Team) -> None:
    """Delete a team with its memberships and grants (panel admins only).

    The event lists the members and grants that went with it.
    """
    payload = {
        "team": team.slug,
        "members": list(team.memberships.values_list("user__username", flat=True)),
        "grants": [grant.as_payload() for grant in team.grants.select_related("profile")],
    }
    with audited(actor, "team.delete", payload=payload):
        require(access_for(actor.user).can_manage_teams(), ONLY_ADMINS)
        team.delete()


# --- members -----------------------------------------------------------------------------


def _require_member_manager(actor: Actor, team: Team) -> None:
    require(access_for(actor.user).can_manage_members(team), ONLY_MEMBER_MANAGERS)


def _membership(team: Team, user: Any) -> TeamMembership:
    """The user's membership of the team, locked until the transaction ends.

    A ValidationError says they are not in it (also when a concurrent request just took
    them out: the lock makes it wait for that one and then find nothing).
    """
    membership = TeamMembership.objects.select_for_update().filter(team=team, user=user).first()
    if membership is None:
        raise ValidationError(f"{user.get_username()} is not in {team.name}.")
    return membership


def _check_role(role: str) -> None:
    if role not in TeamMembership.Role.values:
        raise ValidationError("Choose a role: member or team admin.")


def _is_last_admin_leaving(actor: Actor, membership: TeamMembership) -> bool:
    """True when a team admin (not a panel admin) would take away their own last admin seat.

    Nobody would then manage the team's members but the panel admins.
    """
    if actor.user is None or membership.user_id != actor.user.pk:
        return False
    if access_for(actor.user).is_superuser or membership.role != TeamMembership.Role.ADMIN:
        return False
    other_admins = TeamMembership.objects.filter(
        team_id=membership.team_id, role=TeamMembership.Role.ADMIN
    ).exclude(pk=membership.pk)
    return not other_admins.exists()


def add_member(actor: Actor, team: Team, user: Any, role: str) -> TeamMembership:
    """Put a user in a team as member or team admin."""
    payload = {"team": team.slug, "user": user.get_username(), "role": role}
    with audited(actor, "member.add", payload=payload, failed=(ValidationError,)):
        _require_member_manager(actor, team)
        _check_role(role)
        if TeamMembership.objects.filter(team=team, user=user).exists():
            raise ValidationError(f"{user.get_username()} is already in {team.name}.")
        membership = TeamMembership.objects.create(team=team, user=user, role=role)
    return membership


def removal_refusal(actor: Actor, membership: TeamMembership) -> str:
    """Why ``remove_member`` would refuse to take this member out, or '' when it would not.

    The confirmation page says it before anyone presses the button.
    """
    if _is_last_admin_leaving(actor, membership):
        return LAST_ADMIN.format(team=membership.team.name)
    return ""


def remove_member(actor: Actor, team: Team, user: Any) -> None:
    """Take a user out of a team (their rights from its grants end at once)."""
    payload = {"team": team.slug, "user": user.get_username()}
    with audited(actor, "member.remove", payload=payload, failed=(ValidationError,)) as event:
        _require_member_manager(actor, team)
        membership = _membership(team, user)
        event.payload["role"] = membership.role
        if _is_last_admin_leaving(actor, membership):
            raise ValidationError(LAST_ADMIN.format(team=team.name))
        membership.delete()


def change_member_role(actor: Actor, team: Team, user: Any, role: str) -> TeamMembership:
    """Make a member team admin, or a team admin a plain member."""
    payload: dict[str, Any] = {"team": team.slug, "user": user.get_username(), "role": role}
    with audited(actor, "member.role_change", payload=payload, failed=(ValidationError,)) as event:
        _require_member_manager(actor, team)
        _check_role(role)
        membership = _membership(team, user)
        event.payload["old_role"] = membership.role
        demoting = role != TeamMembership.Role.ADMIN
        if demoting and _is_last_admin_leaving(actor, membership):
            raise ValidationError(LAST_ADMIN.format(team=team.name))
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


# --- grants ------------------------------------------------------------------------------


def clean_selector(values: Iterable[str]) -> list[str]:
    """Stripped, without empty entries or repeats, in the order given."""
    cleaned = (value.strip() for value in values)
    return list(dict.fromkeys(value for value in cleaned if value))


def _selector_problem(dag_ids: list[str], dag_patterns: list[str], tags: list[str]) -> str:
    """What is wrong with a grant's selector in plain words, or ''."""
    if not (dag_ids or dag_patterns or tags):
        return "Choose at least one DAG id, pattern or tag."
    for dag_id in dag_ids:
        if not DAG_ID_RE.match(dag_id):
            return f"'{dag_id}' is not a DAG id: use letters, digits and _ . - only."
    for pattern in dag_patterns:
        if not DAG_PATTERN_RE.match(pattern):
            return (
                f"'{pattern}' is not a DAG id pattern: use letters, digits, _ . - "
                "and the wildcards * (any run of characters) and ? (one character)."
            )
    return ""


def add_grant(
    actor: Actor,
    team: Team,
    *,
    profile: AirflowProfile,
    dag_ids: Iterable[str],
    dag_patterns: Iterable[str],
    tags: Iterable[str],
    level: str,
    requires_approval: bool = False,
    approver_team: Team | None = None,
    approval_for_operate: bool = False,
) -> DagGrant:
    """Give a team a level of access to the DAGs of a profile chosen by id, pattern or tag.

    ``requires_approval``: triggering through this grant needs a member of
    ``approver_team`` to approve first, and pausing and retrying too with
    ``approval_for_operate`` (README: Approvals).
    """
    grant = DagGrant(
        team=team,
        profile=profile,
        dag_ids=clean_selector(dag_ids),
        dag_patterns=clean_selector(dag_patterns),
        tags=clean_selector(tags),
        level=level,
        requires_approval=requires_approval,
        approver_team=approver_team,
        approval_for_operate=approval_for_operate,
        created_by=actor.user,
    )
    payload = grant.as_payload()
    with audited(actor, "grant.add", payload=payload, failed=(ValidationError,)) as event:
        require(access_for(actor.user).can_manage_teams(), ONLY_ADMINS)
        event.profile = profile
        problem = _selector_problem(grant.dag_ids, grant.dag_patterns, grant.tags)
        if not problem and level not in Level.values:
            problem = "Choose a level: view, trigger or operate."
        if not problem and requires_approval and approver_team is None:
            problem = "A grant that requires approval needs an approver team."
        if problem:
            raise ValidationError(problem)
        grant.save()
    return grant


def remove_grant(actor: Actor, grant: DagGrant) -> None:
    """Take a grant away from its team (its members lose that access at once)."""
    payload = {"id": grant.pk, **grant.as_payload()}
    with audited(actor, "grant.remove", payload=payload) as event:
        require(access_for(actor.user).can_manage_teams(), ONLY_ADMINS)
        event.profile = grant.profile
        lock_row(grant, "This grant was removed meanwhile.").delete()


def preview_grant(
    profile: AirflowProfile,
    *,
    dag_ids: Iterable[str],
    dag_patterns: Iterable[str],
    tags: Iterable[str],
) -> list[Dag]:
    """The catalog DAGs of ``profile`` a grant with this selector would cover right now."""
    grant = DagGrant(
        profile=profile,
        dag_ids=clean_selector(dag_ids),
        dag_patterns=clean_selector(dag_patterns),
        tags=clean_selector(tags),
    )
    if not (grant.dag_ids or grant.dag_patterns or grant.tags):
        return []
    return list(Dag.objects.filter(dags_granted_by([grant])).order_by("dag_id"))


def catalog_was_read(profile: AirflowProfile) -> bool:
    """Whether the panel has read the profile's DAG list at least once (so a preview tells)."""
    return profile.catalog_synced_at is not None


def unknown_dag_warnings(profile: AirflowProfile, dag_ids: Iterable[str]) -> list[str]:
    """A warning for each DAG id the profile's catalog does not know, with close matches.

    Nothing before the first catalog sync (nothing is known yet). Only a warning: a grant
    may name a DAG that appears in Airflow later.
    """
    wanted = clean_selector(dag_ids)
    if not wanted or not catalog_was_read(profile):
        return []
    known = list(Dag.objects.filter(profile=profile).values_list("dag_id", flat=True))
    missing = [dag_id for dag_id in wanted if dag_id not in set(known)]
    warnings = []
    for dag_id in missing:
        warning = f"No DAG called {dag_id} on this connection — check the spelling."
        close = difflib.get_close_matches(dag_id, known, n=3)
        if close:
            warning += f" Did you mean {' or '.join(close)}?"
        warnings.append(warning)
    return warnings


# --- audit reviewers ----------------------------------------------------------------------


def set_auditor(actor: Actor, user: Any, is_auditor: bool) -> None:
    """Make a user an audit reviewer (read-only: all runs and the audit trail), or stop it."""
    group = Group.objects.filter(name=AUDITORS_GROUP).first()
    was_auditor = group is not None and user.groups.filter(pk=group.pk).exists()
    payload = {"user": user.get_username(), "is_auditor": is_auditor, "was_auditor": was_auditor}
    with audited(actor, "user.auditor_change", payload=payload):
        require(access_for(actor.user).is_superuser, ONLY_SUPERUSERS_AUDITORS)
        group = auditors_group()
        if is_auditor:
            user.groups.add(group)
        else:
            user.groups.remove(group)
    forget_cached_rights(user)


def auditors_group() -> Group:
    """The audit reviewers group, created with its permission on first use.

    Also for the directory sync, which grants and takes back the role itself.
    """
    group, _ = Group.objects.get_or_create(name=AUDITORS_GROUP)
    group.permissions.add(
        Permission.objects.get(codename="review_audit", content_type__app_label="controlpanel")
    )
    return group


def forget_cached_rights(user: Any) -> None:
    """Drop the permission caches Django and ``access_for`` keep on this user object.

    After any change to the user's teams or roles, so the same object sees the new rights.
    """
    for attribute in ("_perm_cache", "_user_perm_cache", "_group_perm_cache", "_panel_access"):
        user.__dict__.pop(attribute, None)
