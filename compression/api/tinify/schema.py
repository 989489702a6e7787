"""The OpenAPI security scheme of the Tinify surface's authentication; compression.api.tinify.urls imports
this module so it is registered before a schema is generated."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class TinifyAuthScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.TinifyAuthentication"
    name = "tinifyBasic"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "User `api`, password an API token of the account (the /v1/ Bearer token value).",
        }
