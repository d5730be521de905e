from __future__ import annotations

from django.http import HttpRequest

from console.models import User
from console.navigation import SECTIONS
from console.selectors import workspaces_for_user


def console_navigation(request: HttpRequest) -> dict[str, object]:
    """Navigation and the workspace switcher, for every page of a signed-in user."""
    user = getattr(request, "user", None)
    if not isinstance(user, User):
        return {}
    return {"nav_sections": SECTIONS, "switchable_workspaces": workspaces_for_user(user=user)}
