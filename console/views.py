"""Console pages. Thin: they check access, validate input and call services and selectors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from console import services
from console.access import (
    ADMINS_ONLY,
    CURRENT_WORKSPACE_SESSION_KEY,
    workspace_member_required,
)
from console.forms import ApiKeyCreateForm
from console.models import ApiKey, Membership, User
from console.navigation import section_by_key
from console.selectors import (
    api_keys_of_workspace,
    memberships_of_workspace,
    workspaces_for_user,
)
from console.team_views import team_page


@login_required
def console_home(request: HttpRequest) -> HttpResponse:
    """Send the user to the workspace they used last, or their first one."""
    user = request.user
    assert isinstance(user, User)
    workspaces = workspaces_for_user(user=user)
    last_slug = request.session.get(CURRENT_WORKSPACE_SESSION_KEY)
    workspace = workspaces.filter(slug=last_slug).first() or workspaces.first()
    if workspace is None:
        return render(request, "console/no_workspace.html")
    return redirect("console:workspace_home", workspace_slug=workspace.slug)


@workspace_member_required()
def workspace_home(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    return render(
        request,
        "console/workspace_home.html",
        {
            "membership": membership,
            "workspace": workspace,
            "members": memberships_of_workspace(workspace=workspace),
        },
    )


@workspace_member_required()
def section_not_built(request: HttpRequest, membership: Membership, section: str) -> HttpResponse:
    """A navigation entry whose page does not exist yet says so, rather than linking nowhere."""
    return render(
        request,
        "console/not_built.html",
        {
            "membership": membership,
            "workspace": membership.workspace,
            "section": section_by_key(section),
        },
    )


@require_GET
@workspace_member_required()
def team(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The members with their roles; admins invite, change roles and remove (console.team_views
    handles those changes and renders this page again when one is refused)."""
    return team_page(request, membership)


@workspace_member_required(roles=ADMINS_ONLY)
def api_keys(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    issued = None
    status = 200
    form = ApiKeyCreateForm()
    if request.method == "POST":
        form = ApiKeyCreateForm(request.POST)
        if form.is_valid():
            user = request.user
            assert isinstance(user, User)
            issued = services.api_key_create(
                workspace=workspace, name=form.cleaned_data["name"], created_by=user
            )
            form = ApiKeyCreateForm()
        else:
            status = 400
    return render(
        request,
        "console/api_keys.html",
        {
            "membership": membership,
            "workspace": workspace,
            "form": form,
            "issued": issued,
            "api_keys": api_keys_of_workspace(workspace=workspace),
        },
        status=status,
    )


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def api_key_revoke(request: HttpRequest, membership: Membership, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=key_id, workspace=membership.workspace)
    services.api_key_revoke(api_key=api_key)
    return redirect("console:api_keys", workspace_slug=membership.workspace.slug)
