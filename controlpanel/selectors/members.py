"""Who the team page's member picker offers: usernames and names, e-mails to panel admins."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from controlpanel.models import Team
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
