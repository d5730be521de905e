"""Tells drf-spectacular how workspace API keys authenticate, for the OpenAPI schema."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "console.authentication.ApiKeyAuthentication"
    name = "workspaceApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A workspace API key, created in the console or with "
            "`manage.py apikey create --workspace SLUG`.",
        }
