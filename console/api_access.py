"""Which workspace a REST request acts on.

An API key acts on its own workspace. A signed-in console user (session authentication) acts on
the workspace named by the `X-Workspace` header, or else the one they last opened in the console;
they must be a member of it. Anything else is 404, never another tenant's data.
"""

from __future__ import annotations

from collections.abc import Collection

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request

from console.access import CURRENT_WORKSPACE_SESSION_KEY
from console.authentication import ApiKeyClient
from console.models import Membership, Role, User, Workspace
from console.selectors import membership_for_user

WORKSPACE_HEADER = "X-Workspace"


def api_workspace(request: Request) -> Workspace:
    caller = request.user
    if isinstance(caller, ApiKeyClient):
        return caller.workspace
    return api_membership(request).workspace


def api_membership(request: Request) -> Membership:
    """The session user's membership of the workspace the request names."""
    user = request.user
    if not isinstance(user, User):
        raise NotFound("No workspace: authenticate with a workspace API key.")
    slug = request.headers.get(WORKSPACE_HEADER) or request.session.get(
        CURRENT_WORKSPACE_SESSION_KEY
    )
    membership = membership_for_user(user=user, workspace_slug=str(slug)) if slug else None
    if membership is None:
        raise NotFound(
            f"No such workspace: name one you belong to in the {WORKSPACE_HEADER} header."
        )
    return membership


def api_workspace_for_change(request: Request) -> Workspace:
    """The workspace, for a request that changes it: API keys may, console users must be admins.

    An API key is a workspace credential that an admin created; it acts with admin rights.
    """
    caller = request.user
    if isinstance(caller, ApiKeyClient):
        return caller.workspace
    membership = api_membership(request)
    if not membership.is_admin:
        raise PermissionDenied("Only admins of this workspace can change it.")
    return membership.workspace


def api_workspace_for_roles(request: Request, *, roles: Collection[Role], doing: str) -> Workspace:
    """The workspace, for a request only some roles may make (an agent may simulate a flow, a
    viewer may not). API keys act with admin rights, as in `api_workspace_for_change`."""
    caller = request.user
    if isinstance(caller, ApiKeyClient):
        return caller.workspace
    membership = api_membership(request)
    if Role(membership.role) not in roles:
        who = " and ".join(f"{Role(role).label.lower()}s" for role in Role if role in roles)
        raise PermissionDenied(f"Only {who} of this workspace can {doing}.")
    return membership.workspace


def api_validation_error(error: DjangoValidationError) -> ValidationError:
    """A service's ValidationError as a 400 body: field-keyed when the service named fields."""
    return ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages)
