from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import TooManyFieldsSent
from django.http import QueryDict

from console.inbox_display import InboxRow
from console.inbox_forms import InboxFilter, InboxFilterForm
from console.inbox_live import (
    ListUpdate,
    inbox_list_html,
    inbox_list_is_shown,
    inbox_list_rows,
    inbox_list_update,
)
from console.models import Membership, User
from console.realtime import workspace_group_name
from console.selectors import membership_for_user
from conversations.realtime import INBOX_EVENT
from routing.selectors import queues_of_workspace

# Close codes in the 4000 range are ours to define (RFC 6455 section 7.4.2).
CLOSE_BAD_QUERY = 4400
CLOSE_NOT_A_MEMBER = 4403


class WorkspaceEventsConsumer(AsyncJsonWebsocketConsumer):
    """A console socket: relays the workspace's live events to one signed-in member."""

    group_name: str | None = None
    membership: Membership | None = None

    async def connect(self) -> None:
        if not await self._join():
            await self.close(code=CLOSE_NOT_A_MEMBER)
            return
        await self.accept()

    async def _join(self) -> bool:
        """Join the workspace's group, for a member of it; False for anyone else."""
        membership = await self._membership()
        if membership is None:
            return False
        self.membership = membership
        self.group_name = workspace_group_name(membership.workspace_id)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        return True

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

    The inbox page's socket says so and names its filter in the query string
    (`?queue=3&list=inbox&shown=<token>`, the filter validated like the page's: an invalid
    value is ignored). It gets the list on connect unless the page shows it already, then only
    what its filtered list needs of each inbox event (console/inbox_live.py).
    """

    inbox_filter: InboxFilter | None = None
    listed: set[int]  # the conversations the inbox list shows, once `inbox_filter` is set

    async def connect(self) -> None:
        try:
            query = QueryDict(self.scope.get("query_string", b""))
        except TooManyFieldsSent:
            await self.close(code=CLOSE_BAD_QUERY)
            return
        if not await self._join():
            await self.close(code=CLOSE_NOT_A_MEMBER)
            return
        # The list is read after joining the group, so no change is missed in between, and
        # before accepting, so the socket is open only once it knows what its list shows.
        list_html = await self._inbox_list_open(query) if query.get("list") == "inbox" else None
        await self.accept()
        if list_html:
            await self.send(text_data=list_html)

    async def workspace_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if self.inbox_filter is not None and event.get("type") == INBOX_EVENT:
            await self._inbox_list_event(event)
            return
        html = await database_sync_to_async(render_live_fragment)(event)
        if html:
            await self.send(text_data=html)

    async def _inbox_list_open(self, query: QueryDict) -> str | None:
        """Start following the list the query names; its HTML, unless the page shows it."""
        self.inbox_filter = await self._inbox_filter(query)
        rows, html = await self._inbox_list_reload()
        return None if inbox_list_is_shown(query.get("shown"), rows) else html

    async def _inbox_list_event(self, event: dict[str, Any]) -> None:
        assert self.inbox_filter is not None
        update = inbox_list_update(event, inbox_filter=self.inbox_filter, listed=self.listed)
        if update is None:
            return
        if update is ListUpdate.LIST:
            _, html = await self._inbox_list_reload()
            await self.send(text_data=html)
            return
        conversation_id = event["conversation"]["id"]
        if update is ListUpdate.ROW:
            self.listed.add(conversation_id)
        elif update is ListUpdate.REMOVE:
            self.listed.discard(conversation_id)
        html = await database_sync_to_async(render_live_fragment)(event, list_update=update)
        if html:
            await self.send(text_data=html)

    @database_sync_to_async
    def _inbox_filter(self, query: QueryDict) -> InboxFilter:
        assert self.membership is not None
        queues = list(queues_of_workspace(workspace=self.membership.workspace))
        form = InboxFilterForm(query, queues=queues)
        form.is_valid()  # as on the page: an invalid field is ignored, the others apply
        return form.inbox_filter(agent=self.membership.user)

    async def _inbox_list_reload(self) -> tuple[list[InboxRow], str]:
        """The list as it is now, rows and HTML; the socket follows these rows from now on."""
        rows, html = await self._inbox_list()
        self.listed = {row.id for row in rows}
        return rows, html

    @database_sync_to_async
    def _inbox_list(self) -> tuple[list[InboxRow], str]:
        assert self.membership is not None and self.inbox_filter is not None
        rows = inbox_list_rows(workspace=self.membership.workspace, inbox_filter=self.inbox_filter)
        return rows, inbox_list_html(rows, inbox_filter=self.inbox_filter)


def render_live_fragment(event: dict[str, Any], **context: Any) -> str | None:
    from django.template import TemplateDoesNotExist
    from django.template.loader import get_template

    event_type = str(event.get("type", ""))
    if not event_type.replace(".", "").replace("_", "").isalnum():
        return None
    try:
        template = get_template(f"live/{event_type}.html")
    except TemplateDoesNotExist:
        return None
    return template.render({"event": event, **context})
