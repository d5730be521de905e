"""The console's Chat widget page: the hosted chat page's address, the <script> snippet that puts
the chat on the company's site, and the sites allowed to show it.

Every member sees the page; only admins change the allowed sites (`conversations.widget`).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_POST

from console.access import ADMINS_ONLY, workspace_member_required
from console.knowledge_forms import add_service_errors
from console.models import Membership, User, Workspace
from console.widget_forms import AllowedOriginsForm
from conversations.widget import (
    ALLOWED_ORIGINS_MAX,
    chat_widget_origins_update,
    chat_widget_settings_of_workspace,
)

SECTION = "chat-widget"


@require_GET
@workspace_member_required()
def chat_widget(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = None
    if membership.is_admin:
        settings = chat_widget_settings_of_workspace(workspace=membership.workspace)
        origins = settings.allowed_origins if settings else []
        form = AllowedOriginsForm(initial={"allowed_origins": "\n".join(origins)})
    return render(request, "console/widget.html", _context(request, membership, form))


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def chat_widget_origins(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = AllowedOriginsForm(request.POST)
    if form.is_valid():
        user = request.user
        assert isinstance(user, User)
        try:
            settings = chat_widget_origins_update(
                workspace=membership.workspace,
                origins=form.cleaned_data["allowed_origins"],
                updated_by=user,
                entry_label="Line",
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            count = len(settings.allowed_origins)
            messages.success(
                request,
                f"Saved. {count} site{'' if count == 1 else 's'} may show the widget."
                if count
                else "Saved. No other site may show the chat.",
            )
            return redirect("console:chat_widget", workspace_slug=membership.workspace.slug)
    # The form keeps what the admin typed, with each bad line named.
    return render(request, "console/widget.html", _context(request, membership, form), status=400)


def _context(
    request: HttpRequest, membership: Membership, form: AllowedOriginsForm | None
) -> dict[str, object]:
    workspace = membership.workspace
    return {
        "membership": membership,
        "workspace": workspace,
        "current_section": SECTION,
        "widget_settings": chat_widget_settings_of_workspace(workspace=workspace),
        "chat_url": request.build_absolute_uri(reverse("chat", args=[workspace.slug])),
        "snippet": widget_snippet(request, workspace),
        "form": form,
        "origins_max": ALLOWED_ORIGINS_MAX,
    }


def widget_snippet(request: HttpRequest, workspace: Workspace) -> str:
    """The <script> tag for the company's pages, as text to copy (the template escapes it)."""
    script_url = request.build_absolute_uri(static("conversations/widget.js"))
    chat_server = request.build_absolute_uri("/")
    attributes = [
        f'src="{escape(script_url)}"',
        f'data-workspace="{escape(workspace.slug)}"',
        f'data-title="{escape(workspace.name)} support"',
    ]
    # widget.js finds the chat server from its own address, unless static files live elsewhere.
    if not script_url.startswith(chat_server):
        attributes.append(f'data-server="{escape(chat_server)}"')
    return f"<script {' '.join(attributes)} async></script>"
