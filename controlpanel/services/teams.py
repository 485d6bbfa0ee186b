"""Teams, their members and grants, and the audit reviewer role.

Panel admins create teams and decide their grants; a team's own team admins manage its
members. Every attempt is audited, denied and refused ones too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction

from controlpanel.audit import Actor, Outcome, record_event
from controlpanel.models import (
    AUDITORS_GROUP,
    AirflowProfile,
    Dag,
    DagGrant,
    Level,
    Team,
    TeamMembership,
)
from controlpanel.permissions import ActionDenied, access_for

TEAM_FIELDS = ("name", "slug", "description")
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


def _require(
    allowed: bool, actor: Actor, action: str, message: str, payload: dict[str, Any]
) -> None:
    """Raise ActionDenied, recorded as denied, unless ``allowed``."""
    if allowed:
        return
    record_event(actor, action, outcome=Outcome.DENIED, payload=payload, message=message)
    raise ActionDenied(message)


def _refuse(
    actor: Actor,
    action: str,
    payload: dict[str, Any],
    error: ValidationError | str,
    profile: AirflowProfile | None = None,
) -> ValidationError:
    """Record a refused change as failed (its own transaction) and return the error to raise."""
    exc = error if isinstance(error, ValidationError) else ValidationError(error)
    record_event(
        actor,
        action,
        outcome=Outcome.FAILED,
        profile=profile,
        payload=payload,
        message=" ".join(exc.messages),
    )
    return exc


def _clean(actor: Actor, action: str, obj: Team, payload: dict[str, Any]) -> None:
    """``full_clean`` a team, recording a refusal."""
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise _refuse(actor, action, payload, exc) from None


def ensure_may_manage_teams(actor: Actor, action: str, payload: dict[str, Any]) -> None:
    """Raise ActionDenied, recorded as denied, unless the actor may change teams and grants.

    For views that must refuse a POST before they can even parse its form.
    """
    allowed = access_for(actor.user).can_manage_teams()
    _require(allowed, actor, action, ONLY_ADMINS, payload)


# --- teams -------------------------------------------------------------------------------


def create_team(actor: Actor, *, name: str, slug: str, description: str = "") -> Team:
    """Add a team (panel admins only); raises ValidationError for a taken name or slug."""
    team = Team(name=name.strip(), slug=slug.strip(), description=description.strip())
    payload = {field: getattr(team, field) for field in TEAM_FIELDS}
    ensure_may_manage_teams(actor, "team.create", payload)
    _clean(actor, "team.create", team, payload)
    with transaction.atomic():
        team.save()
        record_event(actor, "team.create", outcome=Outcome.SUCCEEDED, payload=payload)
    return team


def update_team(actor: Actor, team: Team, **fields: Any) -> Team:
    """Rename a team or change its description (panel admins only).

    On refusal (ValidationError) the team object is left as it was.
    """
    unknown = set(fields) - set(TEAM_FIELDS)
    if unknown:
        raise TypeError(f"update_team() got unknown fields: {', '.join(sorted(unknown))}")
    before = {field: getattr(team, field) for field in TEAM_FIELDS}
    ensure_may_manage_teams(actor, "team.update", {"team": team.slug})
    for field, value in fields.items():
        setattr(team, field, value.strip() if isinstance(value, str) else value)
    changed = {f: getattr(team, f) for f in TEAM_FIELDS if getattr(team, f) != before[f]}
    payload = {"team": before["slug"], **changed}
    try:
        _clean(actor, "team.update", team, payload)
    except ValidationError:
        for field, value in before.items():
            setattr(team, field, value)
        raise
    with transaction.atomic():
        team.save()
        record_event(actor, "team.update", outcome=Outcome.SUCCEEDED, payload=payload)
    return team


# --- members -----------------------------------------------------------------------------


def _require_member_manager(actor: Actor, action: str, team: Team, payload: dict[str, Any]) -> None:
    allowed = access_for(actor.user).can_manage_members(team)
    _require(allowed, actor, action, ONLY_MEMBER_MANAGERS, payload)


def _membership(
    actor: Actor, action: str, team: Team, user: Any, payload: dict[str, Any]
) -> TeamMembership:
    """The user's membership of the team, or a recorded ValidationError."""
    membership = TeamMembership.objects.filter(team=team, user=user).first()
    if membership is None:
        raise _refuse(actor, action, payload, f"{user.get_username()} is not in {team.name}.")
    return membership


def _check_role(actor: Actor, action: str, role: str, payload: dict[str, Any]) -> None:
    if role not in TeamMembership.Role.values:
        raise _refuse(actor, action, payload, "Choose a role: member or team admin.")


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
    _require_member_manager(actor, "member.add", team, payload)
    _check_role(actor, "member.add", role, payload)
    if TeamMembership.objects.filter(team=team, user=user).exists():
        message = f"{user.get_username()} is already in {team.name}."
        raise _refuse(actor, "member.add", payload, message)
    with transaction.atomic():
        membership = TeamMembership.objects.create(team=team, user=user, role=role)
        record_event(actor, "member.add", outcome=Outcome.SUCCEEDED, payload=payload)
    return membership


def remove_member(actor: Actor, team: Team, user: Any) -> None:
    """Take a user out of a team (their rights from its grants end at once)."""
    payload = {"team": team.slug, "user": user.get_username()}
    _require_member_manager(actor, "member.remove", team, payload)
    membership = _membership(actor, "member.remove", team, user, payload)
    payload["role"] = membership.role
    if _is_last_admin_leaving(actor, membership):
        raise _refuse(actor, "member.remove", payload, LAST_ADMIN.format(team=team.name))
    with transaction.atomic():
        membership.delete()
        record_event(actor, "member.remove", outcome=Outcome.SUCCEEDED, payload=payload)


def change_member_role(actor: Actor, team: Team, user: Any, role: str) -> TeamMembership:
    """Make a member team admin, or a team admin a plain member."""
    payload: dict[str, Any] = {"team": team.slug, "user": user.get_username(), "role": role}
    _require_member_manager(actor, "member.role_change", team, payload)
    _check_role(actor, "member.role_change", role, payload)
    membership = _membership(actor, "member.role_change", team, user, payload)
    payload["old_role"] = membership.role
    demoting = role != TeamMembership.Role.ADMIN
    if demoting and _is_last_admin_leaving(actor, membership):
        raise _refuse(actor, "member.role_change", payload, LAST_ADMIN.format(team=team.name))
    with transaction.atomic():
        membership.role = role
        membership.save(update_fields=["role"])
        record_event(actor, "member.role_change", outcome=Outcome.SUCCEEDED, payload=payload)
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
) -> DagGrant:
    """Give a team a level of access to the DAGs of a profile chosen by id, pattern or tag."""
    grant = DagGrant(
        team=team,
        profile=profile,
        dag_ids=clean_selector(dag_ids),
        dag_patterns=clean_selector(dag_patterns),
        tags=clean_selector(tags),
        level=level,
        created_by=actor.user,
    )
    payload = grant.as_payload()
    ensure_may_manage_teams(actor, "grant.add", payload)
    problem = _selector_problem(grant.dag_ids, grant.dag_patterns, grant.tags)
    if not problem and level not in Level.values:
        problem = "Choose a level: view, trigger or operate."
    if problem:
        raise _refuse(actor, "grant.add", payload, problem, profile)
    with transaction.atomic():
        grant.save()
        record_event(
            actor, "grant.add", outcome=Outcome.SUCCEEDED, profile=profile, payload=payload
        )
    return grant


def remove_grant(actor: Actor, grant: DagGrant) -> None:
    """Take a grant away from its team (its members lose that access at once)."""
    payload = {"id": grant.pk, **grant.as_payload()}
    ensure_may_manage_teams(actor, "grant.remove", payload)
    with transaction.atomic():
        record_event(
            actor, "grant.remove", outcome=Outcome.SUCCEEDED, profile=grant.profile, payload=payload
        )
        grant.delete()


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
    return list(Dag.objects.filter(grant.dag_filter()).order_by("dag_id"))


# --- audit reviewers ----------------------------------------------------------------------


def set_auditor(actor: Actor, user: Any, is_auditor: bool) -> None:
    """Make a user an audit reviewer (read-only: all runs and the audit trail), or stop it."""
    group = Group.objects.filter(name=AUDITORS_GROUP).first()
    was_auditor = group is not None and user.groups.filter(pk=group.pk).exists()
    payload = {"user": user.get_username(), "is_auditor": is_auditor, "was_auditor": was_auditor}
    allowed = access_for(actor.user).is_superuser
    _require(allowed, actor, "user.auditor_change", ONLY_SUPERUSERS_AUDITORS, payload)
    with transaction.atomic():
        group = _auditors_group()
        if is_auditor:
            user.groups.add(group)
        else:
            user.groups.remove(group)
        record_event(actor, "user.auditor_change", outcome=Outcome.SUCCEEDED, payload=payload)
    _forget_cached_rights(user)


def _auditors_group() -> Group:
    """The audit reviewers group, created with its permission on first use."""
    group, _ = Group.objects.get_or_create(name=AUDITORS_GROUP)
    group.permissions.add(
        Permission.objects.get(codename="review_audit", content_type__app_label="controlpanel")
    )
    return group


def _forget_cached_rights(user: Any) -> None:
    """Drop the permission caches Django and ``access_for`` keep on this user object."""
    for attribute in ("_perm_cache", "_user_perm_cache", "_group_perm_cache", "_panel_access"):
        user.__dict__.pop(attribute, None)
