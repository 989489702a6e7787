"""The Kraken surface's OpenAPI security scheme; accounts.api.kraken.urls imports this module so it is
registered before a schema is generated."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
