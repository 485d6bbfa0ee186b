"""``manage.py unlock_login [USERNAME] [--ip ADDRESS]``: lift a login lockout, audited."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from controlpanel.audit import Actor
from controlpanel.services.users import unlock_logins


class Command(BaseCommand):
    help = (
        "Lift login lockouts (forget counted failed logins) for a username, an address or the "
        "pair; recorded in the audit trail as auth.unlock."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?", default=None)
        parser.add_argument("--ip", default=None, help="only (or all) failures from this address")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor(user=None, source="cli", username="manage.py")
        try:
            removed = unlock_logins(actor, username=options["username"], ip_address=options["ip"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        who = " from ".join(
            part
            for part in (options["username"] and repr(options["username"]), options["ip"])
            if part
        )
        if removed:
            self.stdout.write(f"Unlocked {who}: {removed} failure counter(s) removed.")
        else:
            self.stdout.write(f"Nothing to unlock for {who}: no failed logins are counted.")
