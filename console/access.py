"""Who may see which console page.

Pages live under /w/<slug>/. Someone who is not a member of that workspace gets 404, exactly as
if it did not exist: the console never confirms another tenant's workspace. A member whose role
is not allowed on a page gets 403 with a page that says which role it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Concatenate, ParamSpec

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from console.models import Membership, Role, User
from console.selectors import membership_for_user

P = ParamSpec("P")
CURRENT_WORKSPACE_SESSION_KEY = "current_workspace_slug"

WorkspaceView = Callable[Concatenate[HttpRequest, Membership, P], HttpResponse]
UrlView = Callable[Concatenate[HttpRequest, str, P], HttpResponse]


def workspace_member_required(
    *, roles: Iterable[Role] = tuple(Role)
) -> Callable[[WorkspaceView[P]], UrlView[P]]:
    allowed = frozenset(roles)

    def decorator(view: WorkspaceView[P]) -> UrlView[P]:
        @login_required
        @wraps(view)
        def wrapper(
            request: HttpRequest, workspace_slug: str, *args: P.args, **kwargs: P.kwargs
        ) -> HttpResponse:
            user = request.user
            assert isinstance(user, User)  # login_required guarantees a signed-in user
            membership = membership_for_user(user=user, workspace_slug=workspace_slug)
            if membership is None:
                raise Http404("No such workspace.")
            request.session[CURRENT_WORKSPACE_SESSION_KEY] = workspace_slug
            if Role(membership.role) not in allowed:
                return render(
                    request,
                    "console/forbidden.html",
                    {
                        "membership": membership,
                        "workspace": membership.workspace,
                        "allowed_roles": [Role(r).label for r in Role if r in allowed],
                    },
                    status=403,
                )
            return view(request, membership, *args, **kwargs)

        return wrapper

    return decorator


ADMINS_ONLY = (Role.ADMIN,)
ADMINS_AND_AGENTS = (Role.ADMIN, Role.AGENT)


def signed_in_user(request: HttpRequest) -> User:
    """The person behind a request that `workspace_member_required` let through."""
    user = request.user
    assert isinstance(user, User)  # workspace_member_required signs people in
    return user
