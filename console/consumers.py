from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from console.models import Membership, User
from console.realtime import workspace_group_name
from console.selectors import membership_for_user

# Close codes in the 4000 range are ours to define (RFC 6455 section 7.4.2).
CLOSE_NOT_A_MEMBER = 4403


class WorkspaceEventsConsumer(AsyncJsonWebsocketConsumer):
    """A console socket: relays the workspace's live events to one signed-in member."""

    group_name: str | None = None

    async def connect(self) -> None:
        membership = await self._membership()
        if membership is None:
            await self.close(code=CLOSE_NOT_A_MEMBER)
            return
        self.group_name = workspace_group_name(membership.workspace_id)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group_name is not None:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        # A malformed frame gets an error event; it must not close the socket.
        try:
            content = await self.decode_json(text_data) if text_data else None
        except ValueError:
            content = None
        if content is None:
            await self.send_json({"type": "error", "error": "Malformed frame: send JSON."})
            return
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The console socket only listens; say so instead of dropping the frame silently.
        await self.send_json({"type": "error", "error": "This socket does not accept messages."})

    async def workspace_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    @database_sync_to_async
    def _membership(self) -> Membership | None:
        user = self.scope.get("user")
        if not isinstance(user, User):
            return None
        slug = self.scope["url_route"]["kwargs"]["workspace_slug"]
        return membership_for_user(user=user, workspace_slug=slug)


class WorkspaceLiveHtmlConsumer(WorkspaceEventsConsumer):
    """The console page's socket (htmx ws extension): the same events, as HTML fragments.

    Each event type that a page shows live has a template in `templates/live/<type>.html`,
    rendered with the event as context; it carries `hx-swap-oob` so htmx swaps it into place.
    Events without a template are not sent. Rendering here keeps services free of HTML and
    keeps one rendering path: the live templates are the page's own partials.
    """

    async def workspace_event(self, message: dict[str, Any]) -> None:
        html = await database_sync_to_async(render_live_fragment)(message["event"])
        if html:
            await self.send(text_data=html)


def render_live_fragment(event: dict[str, Any]) -> str | None:
    from django.template import TemplateDoesNotExist
    from django.template.loader import get_template

    event_type = str(event.get("type", ""))
    if not event_type.replace(".", "").replace("_", "").isalnum():
        return None
    try:
        template = get_template(f"live/{event_type}.html")
    except TemplateDoesNotExist:
        return None
    return template.render({"event": event})
