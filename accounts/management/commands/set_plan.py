"""`manage.py set_plan LOGIN --bytes N …`: changes an account's plan and prints what its callback URLs are
told (the `subscription_updated` payload) as one JSON line. Nothing is sent when nothing shown changed."""

import datetime
import decimal
import json
from argparse import SUPPRESS, ArgumentParser, ArgumentTypeError
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import presenters, selectors, services
from crush.lib.errors import CrushError

FIELDS = ("plan_code", "plan_name", "plan_price", "plan_bytes", "next_charge_at")
PRICE_MAX = decimal.Decimal("99999999.99")  # Account.plan_price: 10 digits, 2 after the point
CENT = decimal.Decimal("0.01")


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ArgumentTypeError(f"must be a positive whole number of bytes, got {value!r}")
    return number


def _price(value: str) -> decimal.Decimal:
    try:
        price = decimal.Decimal(value)
    except decimal.InvalidOperation:
        price = decimal.Decimal(-1)
    if not (price.is_finite() and 0 <= price <= PRICE_MAX and price == price.quantize(CENT)):
        raise ArgumentTypeError(
            f"must be an amount from 0 to {PRICE_MAX} with at most 2 decimals, got {value!r}"
        )
    return price


def _text(max_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not value or len(value) > max_length:
            raise ArgumentTypeError(f"must be 1 to {max_length} characters, got {value!r}")
        return value

    return parse


def _moment(value: str) -> datetime.datetime | None:
    if value.lower() == "none":
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ArgumentTypeError(f"must be an ISO 8601 date and time or 'none', got {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


class Command(BaseCommand):
    help = (
        "Changes an account's plan (code, name, price, monthly bytes, next charge) and prints the "
        "subscription_updated payload its callback URLs are sent."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        # A field not given is left out of the options (SUPPRESS): None is a value (unlimited, no charge).
        parser.add_argument("login")
        parser.add_argument("--code", dest="plan_code", type=_text(32), default=SUPPRESS, help="e.g. pro")
        parser.add_argument(
            "--name", dest="plan_name", type=_text(100), default=SUPPRESS, help="shown to the shop"
        )
        parser.add_argument("--price", dest="plan_price", type=_price, default=SUPPRESS, metavar="AMOUNT")
        allowance = parser.add_mutually_exclusive_group()
        allowance.add_argument(
            "--bytes",
            dest="plan_bytes",
            type=_positive,
            default=SUPPRESS,
            metavar="N",
            help="monthly allowance of original bytes",
        )
        allowance.add_argument(
            "--unlimited",
            dest="plan_bytes",
            action="store_const",
            const=None,
            default=SUPPRESS,
            help="no monthly allowance",
        )
        parser.add_argument(
            "--next-charge-at",
            dest="next_charge_at",
            type=_moment,
            default=SUPPRESS,
            metavar="ISO|none",
            help="UTC when it has no offset",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fields = {name: options[name] for name in FIELDS if name in options}
        if not fields:
            raise CommandError(
                "Nothing to change: give --code, --name, --price, --bytes, --unlimited or --next-charge-at"
            )
        try:
            account = selectors.account_get_for_login(login=options["login"])
            account = services.account_update(account=account, **fields)
        except CrushError as error:
            raise CommandError(str(error.message)) from error

        usage = selectors.quota_used_this_month(account=account)
        self.stdout.write(json.dumps(presenters.subscription_data(account, quota_usage=usage)))
