"""OpenAPI security schemes of every surface's authentication class (all in accounts.authentication);
accounts.api.urls imports this module so they are registered before a schema is generated."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from `manage.py create_account` (or the admin): "
            "`Authorization: Bearer <token>`.",
        }


class ImageRecycleAuthScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ImageRecycleAuthentication"
    name = "imageRecycleAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "query",
            "name": "auth",
            "description": 'JSON `{"key": "…", "secret": "…"}` in the query string (GET, DELETE) '
            "or the form/JSON body (POST, PUT).",
        }


class TinifyAuthScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.TinifyAuthentication"
    name = "tinifyBasic"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "User `api`, password an API token of the account (the /v1/ Bearer token value).",
        }


class KrakenAuthScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.KrakenAuthentication"
    name = "krakenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        # OpenAPI has no scheme for credentials inside the body: the nearest kind, with the truth in words.
        return {
            "type": "apiKey",
            "in": "header",
            "name": "auth",
            "description": 'Not a header: `"auth": {"api_key": "…", "api_secret": "…"}` inside the JSON '
            "body, or inside the JSON of the multipart `data` field (uploads).",
        }
