"""The hosted chat page: public, one per workspace. The page is a shell; chat.js talks to the
chat socket, which is where the conversation lives."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from conversations.selectors import workspace_of_slug


@require_GET
def chat_page(request: HttpRequest, workspace_slug: str) -> HttpResponse:
    workspace = workspace_of_slug(slug=workspace_slug)
    if workspace is None:
        raise Http404("No such chat.")
    return render(request, "conversations/chat.html", {"workspace": workspace})
