"""REST authentication with workspace API keys: `Authorization: Bearer <key>`."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from console.models import ApiKey, Workspace
from console.selectors import api_key_active
from console.services import api_key_record_use


@dataclass(frozen=True)
class ApiKeyClient:
    """The caller behind an API key: it acts for one workspace, not as a person."""

    workspace: Workspace
    api_key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}… of {self.workspace.slug}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiKeyClient, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, raw_key = header.partition(" ")
        if keyword != self.keyword:
            return None  # another scheme: leave it to the next authenticator
        raw_key = raw_key.strip()
        if not raw_key or " " in raw_key:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: send 'Authorization: Bearer <key>'."
            )
        api_key = api_key_active(raw_key=raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        api_key_record_use(api_key=api_key)
        return ApiKeyClient(workspace=api_key.workspace, api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'
