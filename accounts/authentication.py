"""DRF authentication for both surfaces. Both look credentials up by a digest and compare in constant time."""

import base64
import binascii
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts import services
from accounts.models import Account, ApiKey, ApiToken
from crush.api import jsonbody
from crush.lib.errors import AccountDisabled, Unauthenticated


def request_account(request: Request) -> Account:
    """The calling account of a request a surface's base view authenticated (its `request.user`)."""
    account = request.user
    if not isinstance(account, Account):  # a public view, or authentication not run yet
        raise TypeError(f"request.user is {type(account).__name__}, not an Account")
    return account


def _checked(account: Account) -> Account:
    if not account.is_active or (account.parent is not None and not account.parent.is_active):
        raise exceptions.PermissionDenied(AccountDisabled.default_message)
    return account


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>` on /v1/."""

    def authenticate(self, request: Request) -> tuple[Account, ApiToken]:
        scheme, _, raw_token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not raw_token.strip():
            raise exceptions.NotAuthenticated("Missing credentials: send Authorization: Bearer <token>")
        try:
            token = services.api_token_authenticate(raw_token=raw_token.strip())
        except Unauthenticated as error:
            raise exceptions.AuthenticationFailed(str(error.message)) from error
        return _checked(token.account), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="crush"'


def _auth_parameter(request: Request) -> Any:
    """The ImageRecycle `auth` value from the query string or the body (form, multipart or JSON)."""
    for source in (request.query_params, request.data):  # curl -X GET -d 'auth=…' sends it in the body
        if not hasattr(source, "get"):
            continue
        if source.get("auth") not in (None, ""):
            return source.get("auth")
        if source.get("auth[key]") is not None:
            return {"key": source.get("auth[key]"), "secret": source.get("auth[secret]")}
    return None


class ImageRecycleAuthentication(BaseAuthentication):
    """`auth={"key": …, "secret": …}` on /imagerecycle/v1/."""

    def authenticate(self, request: Request) -> tuple[Account, ApiKey]:
        value = _auth_parameter(request)
        if value is None:
            raise exceptions.NotAuthenticated('Missing parameter auth={"key": …, "secret": …}')
        if isinstance(value, str):
            try:
                value = jsonbody.loads(value)
            except ValueError as error:
                raise exceptions.ParseError("The auth parameter is not valid JSON") from error
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("key"), str)
            or not isinstance(value.get("secret"), str)
        ):
            raise exceptions.ParseError('The auth parameter must be {"key": "…", "secret": "…"}')
        try:
            api_key = services.api_key_authenticate(key=value["key"], secret=value["secret"])
        except Unauthenticated as error:
            raise exceptions.AuthenticationFailed(str(error.message)) from error
        return _checked(api_key.account), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'ImageRecycle realm="crush"'


def _kraken_auth(request: Request) -> Any:
    """Kraken's `auth` object: in the JSON body, or in the JSON of a multipart `data` field (uploads)."""
    data: Any = request.data
    if not hasattr(data, "get"):
        return None
    if data.get("auth") is not None:
        return data.get("auth")
    options = data.get("data")
    if isinstance(options, str) and options:
        try:
            options = jsonbody.loads(options)
        except ValueError as error:
            raise exceptions.ParseError("The data field is not valid JSON") from error
    return options.get("auth") if isinstance(options, dict) else None


class KrakenAuthentication(BaseAuthentication):
    """`{"auth": {"api_key": …, "api_secret": …}}` on /kraken/ (an ImageRecycle key/secret pair)."""

    def authenticate(self, request: Request) -> tuple[Account, ApiKey]:
        value = _kraken_auth(request)
        if value is None:
            raise exceptions.NotAuthenticated('Missing auth: {"api_key": …, "api_secret": …}')
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("api_key"), str)
            or not isinstance(value.get("api_secret"), str)
        ):
            raise exceptions.AuthenticationFailed('auth must be {"api_key": "…", "api_secret": "…"}')
        try:
            api_key = services.api_key_authenticate(key=value["api_key"], secret=value["api_secret"])
        except Unauthenticated as error:
            raise exceptions.AuthenticationFailed(str(error.message)) from error
        return _checked(api_key.account), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Kraken realm="crush"'


class TinifyAuthentication(BaseAuthentication):
    """HTTP Basic on /tinify/, as Tinify's clients send it: user `api` (any name is taken), password = an API
    token of the account (the value a /v1/ client sends as `Authorization: Bearer <token>`)."""

    def authenticate(self, request: Request) -> tuple[Account, ApiToken]:
        scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "basic" or not encoded.strip():
            raise exceptions.NotAuthenticated("Credentials missing: HTTP Basic, user api, password a key")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as error:
            raise exceptions.AuthenticationFailed("Credentials are invalid") from error
        key = decoded.partition(":")[2].strip()
        if not key:
            raise exceptions.AuthenticationFailed("Credentials are invalid")
        try:
            token = services.api_token_authenticate(raw_token=key)
        except Unauthenticated as error:
            raise exceptions.AuthenticationFailed("Credentials are invalid") from error
        return _checked(token.account), token

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="Tinify"'
