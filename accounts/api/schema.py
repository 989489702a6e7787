"""OpenAPI security schemes for both surfaces' authentication classes; accounts.api.urls imports this module
so they are registered before a schema is generated."""

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
