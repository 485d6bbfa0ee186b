"""A team's members as the team pages and the API read them, and who the picker offers.

The member picker offers usernames and names, and e-mail addresses to panel admins only.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from controlpanel.models import Team, TeamMembership
from controlpanel.permissions import Access

# Options sent at once: the browser filters them as the person types, the server on each
# pause in typing, so a directory of thousands of users never travels whole.
MEMBER_CHOICES_SHOWN = 25


@dataclass(frozen=True)
class MemberChoice:
    """One option of the picker: the username it fills in and the words shown beside it."""

    username: str
    label: str


def member_choices(
    access: Access, team: Team, typed: str = "", limit: int = MEMBER_CHOICES_SHOWN
) -> list[MemberChoice]:
    """Up to ``limit`` users the viewer may add to ``team`` whose username or name has ``typed``.

    One query; only the columns shown are read, so a team admin's page never carries an
    e-mail address.
    """
    users = access.member_candidates(team)
    typed = typed.strip()
    if typed:
        users = users.filter(
            Q(username__icontains=typed)
            | Q(first_name__icontains=typed)
            | Q(last_name__icontains=typed)
        )
    columns = ["username", "first_name", "last_name"]
    if access.sees_user_emails:
        columns.append("email")
    return [_choice(row) for row in users.values(*columns)[:limit]]


def _choice(row: dict[str, str]) -> MemberChoice:
    name = f"{row['first_name']} {row['last_name']}".strip()
    email = row.get("email", "")
    parts = [part for part in (name, email and f"<{email}>") if part]
    return MemberChoice(username=row["username"], label=" ".join(parts) or row["username"])


def team_members(team: Team) -> QuerySet[TeamMembership]:
    """The team's memberships by username, with their users (one query)."""
    return team.memberships.select_related("user").order_by("user__username")


def team_member(team: Team, username: str) -> TeamMembership:
    """The membership of ``username`` in ``team``, with its user, else 404."""
    found = team.memberships.select_related("user").filter(user__username=username).first()
    if found is None:
        raise Http404("No such member of this team.")
    return found


def membership_of(team: Team, user_id: int) -> TeamMembership:
    """The membership of the user with this id in ``team``, with user and team, else 404."""
    return get_object_or_404(
        TeamMembership.objects.select_related("user", "team"), team=team, user_id=user_id
    )


def other_team_count(membership: TeamMembership) -> int:
    """In how many teams besides this one the member is."""
    return membership.user.team_memberships.exclude(team_id=membership.team_id).count()
