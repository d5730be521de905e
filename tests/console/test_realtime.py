"""Live console events reach every member's socket, across processes through Redis; the inbox
page's socket sends only what the agent's filtered list needs."""

from __future__ import annotations

import html
import time
import uuid
from urllib.parse import urlencode

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from config.channel_layer import redis_channel_layer_config
from console.consumers import CLOSE_BAD_QUERY, CLOSE_NOT_A_MEMBER
from console.inbox_forms import InboxFilter
from console.inbox_live import inbox_list_rows, inbox_list_shown_token
from console.realtime import workspace_event_broadcast
from console.routing import websocket_urlpatterns
from conversations.models import Conversation, ConversationStatus
from conversations.services import (
    agent_message_post,
    conversation_claim,
    conversation_reply,
    conversation_start,
    customer_message_post,
)
from routing.models import Queue
from routing.services import flow_publish, flow_rules_update, queue_save

pytestmark = pytest.mark.django_db(transaction=True)

application = URLRouter(websocket_urlpatterns)


@pytest.fixture
def redis_channel_layer(settings):
    # A fresh prefix per test: nothing left in Redis by another run can leak in.
    settings.CHANNEL_LAYERS = {
        "default": redis_channel_layer_config(
            "redis://127.0.0.1:6379/0", prefix=f"test-{uuid.uuid4().hex}:"
        )
    }
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def socket_for(user, slug: str = "acme") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/w/{slug}/events/")
    communicator.scope["user"] = user
    return communicator


async def test_redis_layer_delivers_an_event_to_two_consumers(redis_channel_layer, admin, agent):
    admin_socket, agent_socket = socket_for(admin), socket_for(agent)
    try:
        assert (await admin_socket.connect())[0]
        assert (await agent_socket.connect())[0]

        await sync_to_async(workspace_event_broadcast)(
            workspace_id=await _workspace_id(admin),
            event={"type": "source.progress", "processed": 3, "total": 10},
        )

        expected = {"type": "source.progress", "processed": 3, "total": 10}
        assert await admin_socket.receive_json_from(timeout=3) == expected
        assert await agent_socket.receive_json_from(timeout=3) == expected
    finally:
        await admin_socket.disconnect()
        await agent_socket.disconnect()


async def test_a_socket_left_idle_on_redis_still_hears_the_next_event(redis_channel_layer, admin):
    """A console tab may sit for minutes between events; the Redis layer waits in 5 s blocking
    reads, which must not time out the socket underneath."""
    socket = socket_for(admin)
    try:
        assert (await socket.connect())[0]
        assert await socket.receive_nothing(timeout=7)

        await sync_to_async(workspace_event_broadcast)(
            workspace_id=await _workspace_id(admin), event={"type": "source.progress"}
        )

        assert await socket.receive_json_from(timeout=3) == {"type": "source.progress"}
    finally:
        await socket.disconnect()


async def test_outsider_socket_is_refused_and_hears_nothing(redis_channel_layer, outsider, admin):
    outsider_socket = socket_for(outsider)
    try:
        connected, code = await outsider_socket.connect()

        assert connected is False
        assert code == CLOSE_NOT_A_MEMBER
    finally:
        await outsider_socket.disconnect()


async def test_anonymous_socket_is_refused(redis_channel_layer, workspace):
    from django.contrib.auth.models import AnonymousUser

    anonymous = socket_for(AnonymousUser())
    try:
        connected, code = await anonymous.connect()
        assert (connected, code) == (False, CLOSE_NOT_A_MEMBER)
    finally:
        await anonymous.disconnect()


async def test_a_frame_from_the_client_gets_an_error_and_the_socket_stays_open(admin):
    socket = socket_for(admin)
    try:
        assert (await socket.connect())[0]

        await socket.send_to(text_data="not json at all")
        first = await socket.receive_json_from(timeout=3)
        await socket.send_json_to({"type": "hello"})
        second = await socket.receive_json_from(timeout=3)

        assert first == {"type": "error", "error": "Malformed frame: send JSON."}
        assert second == {"type": "error", "error": "This socket does not accept messages."}
    finally:
        await socket.disconnect()


@sync_to_async
def _workspace_id(user) -> int:
    return user.memberships.get().workspace_id


# --- the inbox list's socket: the agent's filter ---------------------------------------------

INVOICE = "My invoice is wrong. I want to talk to a human"
CRASH = "The app crashes on start. I want to talk to a human"


@pytest.fixture
def billing_and_tech(workspace, admin) -> dict[str, Queue]:
    """Billing and Tech queues, and a published flow that hands invoices to Billing and
    crashes to Tech."""
    queues = {
        name: queue_save(workspace=workspace, name=name, tier=1, sla_wait_minutes=30)
        for name in ("Billing", "Tech")
    }
    flow = workspace.flows.get()
    flow = flow_rules_update(
        flow=flow,
        rules=[
            {
                "name": f"{phrase} to {queue}",
                "conditions": [{"fact": "message", "op": "contains_any", "value": [phrase]}],
                "action": {"type": "handoff", "queue": queue, "priority": "normal"},
            }
            for phrase, queue in (("invoice", "Billing"), ("crash", "Tech"))
        ],
        expected_revision=flow.draft_revision,
    )
    flow_publish(flow=flow, published_by=admin)
    return queues


def escalate(workspace, text: str, name: str) -> Conversation:
    """A customer writes and the published flow hands the conversation off (the reply job's
    work, done here): its handoff is broadcast to the inbox."""
    conversation = conversation_start(workspace=workspace, customer_data={"name": name})
    message, _ = customer_message_post(
        conversation=conversation, text=text, client_id="m-1", reply_in_background=False
    )
    conversation_reply(conversation_id=conversation.pk, message_id=message.pk)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    return conversation


def inbox_socket(user, **query: str) -> WebsocketCommunicator:
    """The inbox page's live socket for the filter `query`; by default the page says it shows
    an empty list, so only a change sends anything."""
    query = {**query, "list": "inbox", "shown": query.get("shown", inbox_list_shown_token([]))}
    communicator = WebsocketCommunicator(application, f"/ws/w/acme/live/?{urlencode(query)}")
    communicator.scope["user"] = user
    return communicator


async def fragment_from(socket: WebsocketCommunicator) -> str:
    return html.unescape(await socket.receive_from(timeout=10))


def row_of(conversation: Conversation) -> str:
    return f'<tr id="conversation-{conversation.pk}"'


async def test_an_escalation_reaches_only_the_lists_whose_queue_it_is_on(
    agent, workspace, billing_and_tech
):
    billing = inbox_socket(agent, queue=str(billing_and_tech["Billing"].pk))
    tech = inbox_socket(agent, queue=str(billing_and_tech["Tech"].pk))
    try:
        assert (await billing.connect())[0] and (await tech.connect())[0]

        invoice = await sync_to_async(escalate)(workspace, INVOICE, "Bea Billing")
        crash = await sync_to_async(escalate)(workspace, CRASH, "Tom Tech")
        # Later changes of each, so that what a list hears in between is all it heard.
        for conversation in (invoice, crash):
            await sync_to_async(conversation_claim)(conversation=conversation, agent=agent)

        billing_hears = [await fragment_from(billing) for _ in range(2)]
        tech_hears = [await fragment_from(tech) for _ in range(2)]
    finally:
        await billing.disconnect()
        await tech.disconnect()

    for (new_row, claimed), conversation, wants in (
        (billing_hears, invoice, "My invoice is wrong."),
        (tech_hears, crash, "The app crashes on start."),
    ):
        assert row_of(conversation) in new_row and wants in new_row
        assert f'id="conversation-{conversation.pk}-assignee"' in claimed
        assert "Andy Agent" in claimed
    assert "Tom Tech" not in "".join(billing_hears)
    assert "Bea Billing" not in "".join(tech_hears)


async def test_a_row_that_stops_matching_the_filter_is_removed(agent, admin, workspace):
    first = await sync_to_async(escalate)(workspace, INVOICE, "First Customer")
    second = await sync_to_async(escalate)(workspace, CRASH, "Second Customer")
    rows = await sync_to_async(_rows)(workspace, unassigned=True)
    unassigned = inbox_socket(agent, assignee="unassigned", shown=inbox_list_shown_token(rows))
    try:
        assert (await unassigned.connect())[0]

        await sync_to_async(conversation_claim)(conversation=first, agent=admin)
        removal = await fragment_from(unassigned)
        # The last row going takes the list with it: the list says it is empty instead.
        await sync_to_async(conversation_claim)(conversation=second, agent=admin)
        emptied = await fragment_from(unassigned)
    finally:
        await unassigned.disconnect()

    assert removal.strip() == f'<tbody hx-swap-oob="delete:#conversation-{first.pk}"></tbody>'
    assert '<table id="inbox-table"' in emptied and 'hx-swap-oob="true"' in emptied
    assert "No conversation matches these filters." in emptied
    assert row_of(second) not in emptied


async def test_a_conversation_that_comes_to_match_without_a_handoff_brings_the_list(
    agent, workspace
):
    waiting = await sync_to_async(escalate)(workspace, INVOICE, "Bea Billing")
    mine = inbox_socket(agent, assignee="mine")
    try:
        assert (await mine.connect())[0]

        await sync_to_async(conversation_claim)(conversation=waiting, agent=agent)
        listed = await fragment_from(mine)
        await sync_to_async(agent_message_post)(conversation=waiting, agent=agent, text="Hi Bea")
        changed = await fragment_from(mine)
    finally:
        await mine.disconnect()

    # Its place in the list and what the customer wants come from the database.
    assert '<table id="inbox-table"' in listed and row_of(waiting) in listed
    assert "My invoice is wrong." in listed and "Andy Agent" in listed
    # Listed now: a later change updates its cells in place.
    assert row_of(waiting) not in changed
    assert f'id="conversation-{waiting.pk}-status"' in changed


async def test_the_list_is_sent_on_connect_unless_the_page_was_just_rendered_with_it(
    agent, workspace
):
    waiting = await sync_to_async(escalate)(workspace, INVOICE, "Bea Billing")
    rows = await sync_to_async(_rows)(workspace)
    fresh = inbox_socket(agent, shown=inbox_list_shown_token(rows))
    stale = inbox_socket(agent)  # the page was rendered before the escalation
    # A reconnect, a while after the page was rendered: the page may have changed since.
    reconnected = inbox_socket(agent, shown=inbox_list_shown_token(rows, now=time.time() - 60))
    try:
        for socket in (fresh, stale, reconnected):
            assert (await socket.connect())[0]
        caught_up = [await fragment_from(socket) for socket in (stale, reconnected)]

        await sync_to_async(conversation_claim)(conversation=waiting, agent=agent)
        first_frame_of_fresh = await fragment_from(fresh)
    finally:
        for socket in (fresh, stale, reconnected):
            await socket.disconnect()

    for table in caught_up:
        assert '<table id="inbox-table"' in table and row_of(waiting) in table
        assert "My invoice is wrong." in table
    # The fresh page is not redrawn: the first thing its socket sends is the next change.
    assert '<table id="inbox-table"' not in first_frame_of_fresh
    assert f'id="conversation-{waiting.pk}-assignee"' in first_frame_of_fresh


async def test_invalid_filter_values_are_ignored_as_on_the_page(
    agent, workspace, other_workspace, billing_and_tech
):
    invoice = await sync_to_async(escalate)(workspace, INVOICE, "Bea Billing")
    crash = await sync_to_async(escalate)(workspace, CRASH, "Tom Tech")
    foreign_queue = await sync_to_async(queue_save)(
        workspace=other_workspace, name="Theirs", tier=1, sla_wait_minutes=30
    )
    socket = inbox_socket(
        agent,
        queue=str(foreign_queue.pk),  # another workspace's queue
        priority="<script>",
        status="everything",
        assignee="mine' OR 1=1",
        language="en",  # valid: still applies
    )
    try:
        assert (await socket.connect())[0]
        listed = await fragment_from(socket)
    finally:
        await socket.disconnect()

    assert row_of(invoice) in listed and row_of(crash) in listed
    assert "matching the filters" in listed  # the language filter applies
    assert "<script>" not in listed


async def test_a_query_with_too_many_fields_is_refused(agent, workspace):
    query = "&".join(f"f{number}=1" for number in range(2000))
    socket = WebsocketCommunicator(application, f"/ws/w/acme/live/?{query}&list=inbox")
    socket.scope["user"] = agent
    try:
        assert await socket.connect() == (False, CLOSE_BAD_QUERY)
    finally:
        await socket.disconnect()


async def test_other_pages_sockets_still_get_every_inbox_change(agent, workspace):
    waiting = await sync_to_async(escalate)(workspace, INVOICE, "Bea Billing")
    page_socket = WebsocketCommunicator(application, "/ws/w/acme/live/")  # a conversation page
    page_socket.scope["user"] = agent
    try:
        assert (await page_socket.connect())[0]
        await sync_to_async(conversation_claim)(conversation=waiting, agent=agent)
        fragment = await fragment_from(page_socket)
    finally:
        await page_socket.disconnect()

    assert f'id="conversation-{waiting.pk}-summary"' in fragment  # the conversation's state line
    assert "Assigned to Andy Agent" in fragment


def _rows(workspace, **filters) -> list:
    return inbox_list_rows(workspace=workspace, inbox_filter=InboxFilter(**filters))
