"""Live events to everyone watching a workspace in the console, over the channel layer.

Events are sent only after the transaction that caused them commits, so no client ever sees a
change that was rolled back.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def workspace_group_name(workspace_id: int) -> str:
    return f"workspace-{workspace_id}"


def workspace_event_broadcast(*, workspace_id: int, event: dict[str, Any]) -> None:
    """Send `event` (JSON-serialisable) to every console socket of the workspace, after commit."""

    def send() -> None:
        channel_layer = get_channel_layer()
        if channel_layer is None:
            return
        async_to_sync(channel_layer.group_send)(
            workspace_group_name(workspace_id), {"type": "workspace.event", "event": event}
        )

    transaction.on_commit(send)
