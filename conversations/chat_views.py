"""The hosted chat page: public, one per workspace. The page is a shell; chat.js talks to the
chat socket, which is where the conversation lives.

The page may be framed by the chat server itself and by the sites the workspace's admins allowed
for the widget (`conversations.widget`), and by no one else.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from conversations.selectors import workspace_of_slug
from conversations.widget import chat_widget_allowed_origins, frame_ancestors_policy


@require_GET
def chat_page(request: HttpRequest, workspace_slug: str) -> HttpResponse:
    workspace = workspace_of_slug(slug=workspace_slug)
    if workspace is None:
        raise Http404("No such chat.")
    # ?embedded=1: the page runs in the widget's frame, whose bar names the chat and closes it.
    embedded = request.GET.get("embedded") == "1"
    response = render(
        request, "conversations/chat.html", {"workspace": workspace, "embedded": embedded}
    )
    origins = chat_widget_allowed_origins(workspace=workspace)
    response["Content-Security-Policy"] = frame_ancestors_policy(origins)
    if origins:
        # X-Frame-Options cannot name other sites, so frame-ancestors alone decides. Every
        # current browser enforces it; one too old for it (Internet Explorer) would let any
        # site frame the chat.
        response.xframe_options_exempt = True
    else:
        # The same as frame-ancestors 'self', for browsers that only know this header.
        response["X-Frame-Options"] = "SAMEORIGIN"
    return response
