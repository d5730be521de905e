"""Reads for the console's Actions pages, scoped to a workspace: the filtered request log and
whether a webhook signing secret exists."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import QuerySet

from console.models import Workspace
from conversations.models import ActionRequest, ActorKind
from conversations.selectors import action_requests_of_workspace
from routing.models import ActionWebhookSecret


def webhook_secret_of_workspace(*, workspace: Workspace) -> ActionWebhookSecret | None:
    """The workspace's signing secret, if one was made (on the first call or a rotation)."""
    # Only its dates: the page shows the secret itself only once, right after a rotation.
    return (
        ActionWebhookSecret.objects.filter(workspace=workspace)
        .only("pk", "workspace_id", "created_at", "rotated_at")
        .first()
    )


def action_request_log(*, workspace: Workspace, filters: dict[str, Any]) -> QuerySet[ActionRequest]:
    """The workspace's requests, newest first, narrowed by the valid filters of
    console.action_forms.ActionRequestFilterForm (action id, status, risk, requester kind, and
    an inclusive date range, in days of the server's time zone)."""
    requests = action_requests_of_workspace(workspace=workspace)
    if filters.get("action"):
        requests = requests.filter(action_id=filters["action"])
    if filters.get("status"):
        requests = requests.filter(status=filters["status"])
    if filters.get("risk"):
        requests = requests.filter(action__risk=filters["risk"])
    requester = filters.get("requester")
    if requester == ActorKind.AI:
        requests = requests.filter(requested_by_ai=True)
    elif requester == ActorKind.AGENT:
        requests = requests.filter(requested_by_ai=False, requested_by__isnull=False)
    elif requester == ActorKind.API:
        requests = requests.filter(requested_by_ai=False, requested_by__isnull=True)
    since: date | None = filters.get("since")
    until: date | None = filters.get("until")
    if since:
        requests = requests.filter(created_at__date__gte=since)
    if until:
        requests = requests.filter(created_at__date__lte=until)
    return requests
