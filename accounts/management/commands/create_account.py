"""`manage.py create_account LOGIN …`: an account with an API token and a key/secret pair, as one JSON line.

The token and the secret are printed once and stored only as hashes.
"""

import json
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import selectors, services
from crush.lib.errors import CrushError


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ArgumentTypeError(f"must be a positive whole number of bytes, got {value!r}")
    return number


class Command(BaseCommand):
    help = 'Creates an account and prints {"login", "token", "api_key", "api_secret"} as one JSON line.'

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("login")
        parser.add_argument("--email", default="")
        parser.add_argument("--parent", metavar="LOGIN", help="make it a sub-account of this account")
        parser.add_argument(
            "--plan-bytes",
            type=_positive,
            metavar="N",
            help="monthly allowance of original bytes (default: CRUSH_DEFAULT_PLAN_BYTES)",
        )
        parser.add_argument(
            "--file-max-size",
            type=_positive,
            metavar="N",
            help="largest accepted file in bytes "
            "(default: the parent's, else CRUSH_DEFAULT_FILE_MAX_SIZE_BYTES)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                parent = (
                    selectors.account_get_for_login(login=options["parent"]) if options["parent"] else None
                )
                account = services.account_create(
                    login=options["login"],
                    email=options["email"],
                    parent=parent,
                    plan_bytes=options["plan_bytes"],
                    file_max_size=options["file_max_size"],
                )
                token = services.api_token_create(account=account, name="create_account")
                key = services.api_key_create(account=account)
        except CrushError as error:
            raise CommandError(_describe(error.message)) from error
        except ValidationError as error:
            raise CommandError(_describe(error.message_dict)) from error

        line = {
            "login": account.login,
            "token": token.raw,
            "api_key": key.api_key.key,
            "api_secret": key.secret,
        }
        self.stdout.write(json.dumps(line))


def _describe(message: Any) -> str:
    if isinstance(message, dict):
        return "; ".join(f"{field}: {' '.join(map(str, errors))}" for field, errors in message.items())
    return str(message)
