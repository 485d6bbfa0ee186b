"""Sign-in through the organisation's directory: the account, its teams and its roles.

Each provider's sign-in (OpenID Connect, later LDAP) turns what the directory said into a
``DirectoryIdentity`` and calls ``sign_in_from_directory``. That creates the panel user on
first sign-in and, at every sign-in, brings their directory memberships and roles in line
with the groups they have now. Memberships and roles given by hand are never taken away
by the directory; every change it makes is audited with the source "directory".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from controlpanel.audit import Actor, audited, record_event
from controlpanel.models import AuditEvent, DirectoryAccount, Team, TeamMembership
from controlpanel.permissions import require
from controlpanel.services import teams

SOURCE = "directory"
DISABLED = "This account is disabled in the panel: ask a panel administrator."
NAME_TAKEN = (
    "The panel already has an account named {username} that does not sign in through the "
    "directory: a panel administrator must rename or remove it first."
)


@dataclass(frozen=True)
class DirectoryIdentity:
    """Who the directory says signed in: its stable id, username, email and groups."""

    provider: str  # a DirectoryAccount.Provider value
    subject: str  # the OpenID Connect "sub" or the LDAP DN: never reused for someone else
    username: str
    email: str = ""
    groups: tuple[str, ...] = ()


@dataclass
class DirectoryChanges:
    """What one sign-in changed, in the order it changed it (for messages and tests)."""

    created: bool = False
    teams_joined: list[str] = field(default_factory=list)
    teams_left: list[str] = field(default_factory=list)
    roles_granted: list[str] = field(default_factory=list)
    roles_revoked: list[str] = field(default_factory=list)


def sign_in_from_directory(
    identity: DirectoryIdentity, *, ip_address: str | None = None
) -> tuple[Any, DirectoryChanges]:
    """The panel user for a directory sign-in, with teams and roles synced to their groups.

    Creates the user on first sign-in (``user.create``). Raises ActionDenied, recorded as
    a denied ``auth.login``, for a user disabled in the panel or a username that belongs to
    an account made by hand; ValidationError (failed) for a username the panel cannot use.
    The successful ``auth.login`` is recorded when the caller logs the user in (signals).
    """
    actor = Actor(source=AuditEvent.Source.DIRECTORY, ip_address=ip_address)
    actor = dataclasses.replace(actor, username=identity.username[:150])
    payload = {"provider": identity.provider, "groups": list(identity.groups)}
    with audited(actor, "auth.login", payload=payload, failed=(ValidationError,)) as attempt:
        # Only refusals are recorded here; django.contrib.auth.login records the success.
        attempt.recorded = True
        changes = DirectoryChanges()
        account = _account_for(identity)
        if account is None:
            account, changes.created = _create_account_unless_made_meanwhile(actor, identity)
        attempt.actor = dataclasses.replace(actor, user=account.user)
        require(account.user.is_active, DISABLED)
        user_actor = dataclasses.replace(actor, user=account.user)
        reconcile_directory_user(user_actor, account, identity.groups, changes)
    return account.user, changes


def record_sign_in_failure(
    provider: str, *, message: str, reason: str, ip_address: str | None = None
) -> None:
    """Record a directory sign-in that failed before anyone was known (a failed auth.login).

    ``message`` is what the person read; ``reason`` the technical cause, for whoever looks.
    """
    actor = Actor(source=AuditEvent.Source.DIRECTORY, ip_address=ip_address)
    payload = {"provider": provider, "reason": reason[:500]}
    record_event(
        actor, "auth.login", outcome=AuditEvent.Outcome.FAILED, message=message, payload=payload
    )


def _account_for(identity: DirectoryIdentity) -> DirectoryAccount | None:
    """The account linked to this identity (locked), or None when there is none yet.

    Raises ActionDenied when a panel account made by hand already has the username: the
    directory never takes over an account it did not create.
    """
    account = (
        DirectoryAccount.objects.select_for_update()
        .select_related("user")
        .filter(provider=identity.provider, subject=identity.subject)
        .first()
    )
    if account is None:
        taken = get_user_model().objects.filter(username=identity.username).exists()
        require(not taken, NAME_TAKEN.format(username=identity.username))
    return account


def _create_account_unless_made_meanwhile(
    actor: Actor, identity: DirectoryIdentity
) -> tuple[DirectoryAccount, bool]:
    """The new account, and True; or the one a sign-in at the same moment made, and False.

    Two first sign-ins of one person at once (two tabs, a double click) both find no
    account; the second one's insert then breaks the unique username or identity and waits
    for the first to commit. Its savepoint is rolled back and it uses the first one's account.
    """
    try:
        with transaction.atomic():
            return _create_account(actor, identity), True
    except IntegrityError:
        account = _account_for(identity)  # raises ActionDenied if the name went elsewhere
        if account is None:
            raise
        return account, False


def _create_account(actor: Actor, identity: DirectoryIdentity) -> DirectoryAccount:
    """Create the panel user and its directory link, audited as ``user.create``."""
    user = get_user_model()(username=identity.username, email=identity.email)
    user.set_unusable_password()  # signs in through the directory only
    # Uniqueness is left to the insert: a sign-in at the same moment may take the name
    # between a check and the insert, and the caller handles the database's refusal.
    user.full_clean(validate_unique=False)
    user.save()
    account = DirectoryAccount.objects.create(
        user=user, provider=identity.provider, subject=identity.subject
    )
    record_event(
        dataclasses.replace(actor, user=user),
        "user.create",
        outcome=AuditEvent.Outcome.SUCCEEDED,
        payload={"user": user.username, "email": user.email, **_source(identity.provider)},
    )
    return account


def _source(provider: str) -> dict[str, str]:
    return {"source": SOURCE, "provider": provider}


def _normal(group: str) -> str:
    """A group name or DN as compared: case and surrounding spaces do not count."""
    return group.strip().casefold()


def reconcile_directory_user(
    actor: Actor,
    account: DirectoryAccount,
    groups: tuple[str, ...] | list[str],
    changes: DirectoryChanges | None = None,
) -> DirectoryChanges:
    """Bring a directory user's teams and roles in line with the groups they have now.

    Joins the teams mapped to any of their groups and leaves the ones the directory put
    them in earlier but no longer maps; grants and takes back the panel admin and audit
    reviewer roles of the provider's settings (``DIRECTORY_ROLE_GROUPS``). Memberships and
    roles given by hand are left alone. Each change is audited in this transaction.
    """
    changes = changes if changes is not None else DirectoryChanges()
    with transaction.atomic():
        _reconcile_teams(actor, account, groups, changes)
        _reconcile_roles(actor, account, groups, changes)
        account.groups = list(groups)
        account.last_sign_in_at = timezone.now()
        account.save(update_fields=["groups", "last_sign_in_at", *_ROLE_FLAGS.values()])
    teams.forget_cached_rights(account.user)
    return changes


def _teams_for_groups(groups: tuple[str, ...] | list[str]) -> dict[int, tuple[Team, list[str]]]:
    """team id -> (team, the user's groups mapped to it), for the teams the groups map to."""
    have = {_normal(group) for group in groups}
    found = {}
    for team in Team.objects.exclude(directory_groups=[]).only("id", "slug", "directory_groups"):
        matched = [group for group in team.directory_groups if _normal(group) in have]
        if matched:
            found[team.pk] = (team, matched)
    return found


def _reconcile_teams(
    actor: Actor,
    account: DirectoryAccount,
    groups: tuple[str, ...] | list[str],
    changes: DirectoryChanges,
) -> None:
    """Add the missing directory memberships and remove the ones no group maps any more."""
    user, provider = account.user, account.provider
    wanted = _teams_for_groups(groups)
    current = {
        membership.team_id: membership
        for membership in TeamMembership.objects.select_for_update()
        .select_related("team")
        .filter(user=user)
    }
    for team_id, (team, matched) in wanted.items():
        if team_id in current:
            continue  # already in it, by hand or by an earlier sign-in
        TeamMembership.objects.create(
            team=team, user=user, role=TeamMembership.Role.MEMBER, source=SOURCE
        )
        payload = {"team": team.slug, "user": user.username, "role": "member", "groups": matched}
        _record(actor, "member.add", {**payload, **_source(provider)})
        changes.teams_joined.append(team.slug)
    for team_id, membership in current.items():
        if membership.source != SOURCE or team_id in wanted:
            continue
        membership.delete()
        payload = {"team": membership.team.slug, "user": user.username, "role": membership.role}
        _record(actor, "member.remove", {**payload, **_source(provider)})
        changes.teams_left.append(membership.team.slug)


# role -> the DirectoryAccount flag saying the directory granted it
_ROLE_FLAGS = {"admin": "admin_from_directory", "auditor": "auditor_from_directory"}


def _reconcile_roles(
    actor: Actor,
    account: DirectoryAccount,
    groups: tuple[str, ...] | list[str],
    changes: DirectoryChanges,
) -> None:
    """Grant the roles the user's groups carry; take back the ones the directory gave."""
    have = {_normal(group) for group in groups}
    mapping = settings.DIRECTORY_ROLE_GROUPS.get(account.provider, {})
    for role, flag in _ROLE_FLAGS.items():
        wanted = any(_normal(group) in have for group in mapping.get(role, []))
        granted_by_directory = getattr(account, flag)
        if wanted and not granted_by_directory and not _has_role(account.user, role):
            _set_role(actor, account, role, True)
            changes.roles_granted.append(role)
        elif not wanted and granted_by_directory:
            _set_role(actor, account, role, False)
            changes.roles_revoked.append(role)


def _has_role(user: Any, role: str) -> bool:
    """True when the user has the role already (given by hand: the directory leaves it)."""
    if role == "admin":
        return bool(user.is_superuser)
    return user.groups.filter(pk=teams.auditors_group().pk).exists()


def _set_role(actor: Actor, account: DirectoryAccount, role: str, on: bool) -> None:
    """Grant or take back one role, remember that the directory did, and audit it."""
    user = account.user
    if role == "admin":
        user.is_superuser = user.is_staff = on
        user.save(update_fields=["is_superuser", "is_staff"])
        action, payload = "user.admin_change", {"is_admin": on, "was_admin": not on}
    else:
        if on:
            user.groups.add(teams.auditors_group())
        else:
            user.groups.remove(teams.auditors_group())
        action, payload = "user.auditor_change", {"is_auditor": on, "was_auditor": not on}
    setattr(account, _ROLE_FLAGS[role], on)
    _record(actor, action, {"user": user.username, **payload, **_source(account.provider)})


def _record(actor: Actor, action: str, payload: dict[str, Any]) -> None:
    record_event(actor, action, outcome=AuditEvent.Outcome.SUCCEEDED, payload=payload)
