"""`manage.py rotate_token LOGIN`: revokes the account's API tokens and prints a new one (shown only here)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import selectors, services
from crush.lib.errors import NotFound


class Command(BaseCommand):
    help = "Revokes every API token of the account and prints a new one."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("login")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = selectors.account_get_for_login(login=options["login"])
        except NotFound as error:
            raise CommandError(str(error.message)) from error

        issued = services.api_token_rotate(account=account)

        self.stdout.write(issued.raw)
