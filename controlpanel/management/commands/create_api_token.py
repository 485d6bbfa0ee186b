"""``manage.py create_api_token USERNAME [--expires-days N] [--read-only]``: print a new token."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from controlpanel.audit import Actor
from controlpanel.services.tokens import create_token


class Command(BaseCommand):
    help = "Create an API token for a user and print only the token (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--expires-days", type=int, default=None)
        parser.add_argument("--read-only", action="store_true")
        parser.add_argument("--name", default="command line")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: options["username"]})
        except user_model.DoesNotExist:
            raise CommandError(f"There is no user called {options['username']!r}.") from None
        actor = Actor(user=None, source="cli", username="manage.py")
        try:
            _, plaintext = create_token(
                actor,
                user,
                options["name"],
                expires_days=options["expires_days"],
                read_only=options["read_only"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(plaintext)
