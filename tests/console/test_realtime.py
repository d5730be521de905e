"""Live console events reach every member's socket, across processes through Redis."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from config.channel_layer import redis_channel_layer_config
from console.consumers import CLOSE_NOT_A_MEMBER
from console.realtime import workspace_event_broadcast
from console.routing import websocket_urlpatterns

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
