"""The customer's chat socket, end to end through the consumer, the services and the channel
layer: what a customer's browser is sent for what it sends."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.cache import caches

from console.routing import websocket_urlpatterns
from conversations.consumers import CLOSE_UNKNOWN_WORKSPACE
from conversations.models import Conversation, Message, Sender
from conversations.services import agent_message_post, conversation_claim, conversation_resolve
from conversations.tokens import conversation_token_make, identity_signature
from routing.actions import action_webhook_secret_get_or_create
from tests.conversations.conftest import ROUTINE_QUESTION

pytestmark = pytest.mark.django_db(transaction=True)

application = URLRouter(websocket_urlpatterns)
# The first AI reply loads the embedding model in this process: allow it time.
REPLY_TIMEOUT = 60


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """The limiter counts in the local-memory cache, which outlives a test."""
    caches["default"].clear()
    yield
    caches["default"].clear()


@asynccontextmanager
async def chat(
    slug: str = "acme", *, ip: str = "203.0.113.7", **params: str
) -> AsyncIterator[tuple[WebsocketCommunicator, dict[str, Any]]]:
    """A connected chat socket and its welcome frame; always disconnected afterwards."""
    socket = WebsocketCommunicator(application, f"/ws/chat/{slug}/?{urlencode(params)}")
    socket.scope["client"] = (ip, 51000)
    try:
        connected, _ = await socket.connect(timeout=10)
        assert connected
        welcome = await socket.receive_json_from(timeout=10)
        assert welcome["type"] == "welcome"
        yield socket, welcome
    finally:
        await socket.disconnect()


async def frames_until(
    socket: WebsocketCommunicator,
    last: Callable[[dict[str, Any]], bool],
    timeout: float = REPLY_TIMEOUT,
) -> list[dict[str, Any]]:
    """Every frame the socket gets up to and including the first for which `last` is true."""
    frames = []
    while True:
        frame = await socket.receive_json_from(timeout=timeout)
        frames.append(frame)
        if last(frame):
            return frames


def is_reply(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and frame["message"]["sender"] in ("ai", "system")


def summary(frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f["type"], f["message"]["sender"] if f["type"] == "message" else "") for f in frames]


async def message_to(socket: WebsocketCommunicator, client_id: str, text: str) -> None:
    await socket.send_json_to({"type": "message", "client_id": client_id, "text": text})


@sync_to_async
def stored_customer_messages(conversation_id: int) -> list[str]:
    return list(
        Message.objects.filter(conversation_id=conversation_id, sender=Sender.CUSTOMER)
        .order_by("id")
        .values_list("text", flat=True)
    )


# --- starting and resuming ---------------------------------------------------------------------


async def test_a_new_customer_gets_a_conversation_and_a_token_to_come_back_with(workspace):
    async with chat() as (_, welcome):
        conversation_id = welcome["conversation_id"]
        assert welcome["status"] == "ai"
        assert welcome["verified"] is False

    async with chat(token=welcome["token"]) as (_, again):
        assert again["conversation_id"] == conversation_id


async def test_an_unknown_workspace_refuses_the_socket(workspace):
    socket = WebsocketCommunicator(application, "/ws/chat/nobody-here/")
    try:
        assert await socket.connect(timeout=10) == (False, CLOSE_UNKNOWN_WORKSPACE)
    finally:
        await socket.disconnect()


async def test_a_tampered_or_foreign_token_starts_a_new_conversation(workspace, other_workspace):
    async with chat() as (_, first):
        pass
    foreign = await sync_to_async(conversation_token_make)(
        workspace_id=other_workspace.pk, conversation_id=first["conversation_id"]
    )

    for token in (first["token"][:-2] + "xx", foreign, "not-a-token"):
        async with chat(token=token) as (_, welcome):
            assert welcome["conversation_id"] != first["conversation_id"]
            assert welcome["token"] != first["token"]


async def test_a_reconnecting_customer_gets_exactly_what_they_missed(workspace, agent):
    async with chat() as (socket, welcome):
        await message_to(socket, "m-1", "Hello?")
        # No flow is published: the system answers that a human will take over.
        seen = await frames_until(socket, is_reply)
        last_seen_id = max(f["message"]["id"] for f in seen if f["type"] == "message")

    conversation = await sync_to_async(Conversation.objects.get)(pk=welcome["conversation_id"])
    await sync_to_async(conversation_claim)(conversation=conversation, agent=agent)
    await sync_to_async(agent_message_post)(
        conversation=conversation, agent=agent, text="Refund them", internal=True
    )
    await sync_to_async(agent_message_post)(
        conversation=conversation, agent=agent, text="Hi, Andy here. How can I help?"
    )

    async with chat(token=welcome["token"]) as (socket, again):
        assert again["status"] == "assigned"
        await socket.send_json_to({"type": "resume", "last_seen_id": last_seen_id})
        replay = await frames_until(socket, lambda f: f["type"] == "resumed", timeout=5)

    assert [f["message"]["text"] for f in replay[:-1]] == [
        "Andy Agent joined the conversation.",
        "Hi, Andy here. How can I help?",  # and never the internal note
    ]
    assert replay[-1] == {"type": "resumed", "status": "assigned"}


# --- messages ----------------------------------------------------------------------------------


async def test_a_routine_question_gets_an_ack_and_a_cited_answer(
    workspace, synced_source, confident_flow
):
    async with chat() as (socket, welcome):
        await message_to(socket, "q-1", ROUTINE_QUESTION)
        frames = await frames_until(socket, is_reply)

    assert summary(frames) == [
        ("ack", ""),
        ("typing", ""),
        ("message", "customer"),
        ("message", "ai"),
    ]
    ack, _, mine, answer = frames
    assert ack == {"type": "ack", "client_id": "q-1", "message_id": mine["message"]["id"]}
    assert mine["message"]["text"] == ROUTINE_QUESTION
    assert "30 minutes" in answer["message"]["text"]
    assert [c["title"] for c in answer["message"]["citations"]] == ["Reset your password"]
    assert await stored_customer_messages(welcome["conversation_id"]) == [ROUTINE_QUESTION]


async def test_resending_a_client_id_stores_the_message_once(workspace):
    async with chat() as (socket, welcome):
        await message_to(socket, "same-id", "My invoice is wrong")
        # No flow is published: the system hands the conversation to humans.
        first = await frames_until(socket, lambda f: f["type"] == "status")
        await message_to(socket, "same-id", "My invoice is wrong")
        second = await socket.receive_json_from(timeout=5)
        assert await socket.receive_nothing(timeout=0.3)

    assert second == first[0]  # the same ack, with the stored message's id
    assert await stored_customer_messages(welcome["conversation_id"]) == ["My invoice is wrong"]


async def test_the_ai_stays_silent_while_an_agent_owns_the_conversation(
    workspace, agent, synced_source, confident_flow
):
    async with chat() as (socket, welcome):
        conversation = await sync_to_async(Conversation.objects.get)(pk=welcome["conversation_id"])
        await sync_to_async(conversation_claim)(conversation=conversation, agent=agent)
        joined = await frames_until(socket, lambda f: f["type"] == "status", timeout=5)

        await message_to(socket, "q-1", ROUTINE_QUESTION)
        frames = await frames_until(socket, lambda f: f["type"] == "message", timeout=5)
        assert await socket.receive_nothing(timeout=1)

    assert joined[0]["message"]["text"] == "Andy Agent joined the conversation."
    assert summary(frames) == [("ack", ""), ("message", "customer")]  # no typing, no answer
    replies = Message.objects.filter(conversation_id=welcome["conversation_id"], sender=Sender.AI)
    assert await replies.acount() == 0


# --- bad input and floods ----------------------------------------------------------------------


async def test_bad_frames_get_errors_and_the_socket_keeps_working(workspace):
    bad_frames = [
        ("this is not json", "malformed"),
        (json.dumps(["message"]), "unknown_type"),
        (json.dumps({"type": "shout", "text": "hi"}), "unknown_type"),
        (json.dumps({"type": "message", "client_id": "m-1", "text": "x" * 4001}), "too_long"),
        (
            json.dumps({"type": "message", "client_id": "bad id!", "text": "hi"}),
            "invalid_client_id",
        ),
        (json.dumps({"type": "message", "text": "hi"}), "invalid_client_id"),
        (json.dumps({"type": "message", "client_id": "m-1", "text": "  "}), "invalid_text"),
        (json.dumps({"type": "resume", "last_seen_id": "ten"}), "invalid_last_seen_id"),
        (json.dumps({"type": "csat", "rating": 9}), "invalid_rating"),
    ]
    async with chat() as (socket, welcome):
        codes = []
        for frame, _ in bad_frames:
            await socket.send_to(text_data=frame)
            error = await socket.receive_json_from(timeout=5)
            assert error["type"] == "error" and error["error"]
            codes.append(error["code"])

        await message_to(socket, "m-1", "Still there?")
        ack = await socket.receive_json_from(timeout=5)

    assert codes == [code for _, code in bad_frames]
    assert ack["type"] == "ack" and ack["client_id"] == "m-1"
    assert await stored_customer_messages(welcome["conversation_id"]) == ["Still there?"]


async def test_a_flood_is_refused_until_the_window_passes(workspace, settings, monkeypatch):
    settings.CHAT_RATE_LIMIT = (5, 10)
    clock = SimpleNamespace(now=1_000_000.0)
    monkeypatch.setattr("conversations.rate_limits.time", SimpleNamespace(time=lambda: clock.now))

    async with chat() as (socket, welcome):
        answers = []
        for number in range(8):
            await message_to(socket, f"m-{number}", f"Message {number}")
            answers.append(await _answer_to_a_message(socket))
        clock.now += 10  # the next window
        await message_to(socket, "m-later", "Sorry, one more")
        later = await _answer_to_a_message(socket)

    assert answers == ["ack"] * 5 + ["rate_limited"] * 3
    assert later == "ack"
    stored = await stored_customer_messages(welcome["conversation_id"])
    assert stored == [f"Message {number}" for number in range(5)] + ["Sorry, one more"]


async def test_one_address_is_limited_across_its_conversations(workspace, settings):
    settings.CHAT_IP_RATE_LIMIT = (3, 60)
    async with chat(ip="198.51.100.1") as (first, _), chat(ip="198.51.100.1") as (second, _):
        answers = []
        for number, socket in enumerate((first, second, first, second)):
            await message_to(socket, f"m-{number}", "Hello")
            answers.append(await _answer_to_a_message(socket))
    async with chat(ip="198.51.100.2") as (elsewhere, _):
        await message_to(elsewhere, "m-1", "Hello")
        assert await _answer_to_a_message(elsewhere) == "ack"

    assert answers == ["ack", "ack", "ack", "rate_limited"]


async def _answer_to_a_message(socket: WebsocketCommunicator) -> str:
    """ "ack" or the error code, skipping the conversation's broadcasts."""
    while True:
        frame = await socket.receive_json_from(timeout=5)
        if frame["type"] == "ack":
            return "ack"
        if frame["type"] == "error":
            return frame["code"]


async def test_resolving_asks_for_a_rating_and_the_rating_is_stored(workspace, agent):
    async with chat() as (socket, welcome):
        conversation = await Conversation.objects.aget(pk=welcome["conversation_id"])
        await sync_to_async(conversation_resolve)(conversation=conversation, by=agent)
        frames = await frames_until(socket, lambda f: f["type"] == "csat_request", timeout=5)
        await socket.send_json_to({"type": "csat", "rating": 4, "comment": "Quick, thanks"})
        thanks = await socket.receive_json_from(timeout=5)

    assert [f["type"] for f in frames] == ["message", "status", "csat_request"]
    assert thanks == {"type": "csat_thanks"}
    await conversation.arefresh_from_db()
    assert (conversation.csat_rating, conversation.csat_comment) == (4, "Quick, thanks")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "csat", "rating": 0}, "invalid_rating"),
        ({"type": "csat", "rating": 5, "comment": "x" * 1001}, "invalid_comment"),
    ],
)
async def test_a_bad_rating_is_refused_and_the_socket_stays_usable(workspace, agent, frame, code):
    async with chat() as (socket, welcome):
        conversation = await Conversation.objects.aget(pk=welcome["conversation_id"])
        await sync_to_async(conversation_resolve)(conversation=conversation, by=agent)
        await frames_until(socket, lambda f: f["type"] == "csat_request", timeout=5)
        await socket.send_json_to(frame)
        error = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "csat", "rating": 5})
        thanks = await socket.receive_json_from(timeout=5)

    assert (error["type"], error["code"]) == ("error", code)
    assert thanks["type"] == "csat_thanks"


async def test_an_open_conversation_cannot_be_rated(workspace):
    async with chat() as (socket, welcome):
        await socket.send_json_to({"type": "csat", "rating": 5})
        error = await socket.receive_json_from(timeout=5)

    assert error["code"] == "not_resolved"
    conversation = await Conversation.objects.aget(pk=welcome["conversation_id"])
    assert conversation.csat_rating is None


# --- identity verification ---------------------------------------------------------------------


async def test_a_verified_customer_reaches_the_flow_with_their_plan(
    workspace, synced_source, confident_flow
):
    secret = (await sync_to_async(action_webhook_secret_get_or_create)(workspace=workspace)).secret
    identity = {
        "user_id": "user-42",
        "user_hash": identity_signature(secret=secret, user_id="user-42"),
        "name": "Dana Scully",
        "email": "dana@example.com",
        "plan": "enterprise",
        "attributes": json.dumps({"seats": 40}),
    }
    async with chat(**identity) as (socket, welcome):
        await message_to(socket, "q-1", ROUTINE_QUESTION)
        frames = await frames_until(socket, is_reply)

    assert welcome["verified"] is True
    customer, facts = await _customer_and_last_facts(welcome["conversation_id"])
    assert (customer.external_id, customer.name, customer.plan) == (
        "user-42",
        "Dana Scully",
        "enterprise",
    )
    assert customer.verified and customer.attributes == {"seats": 40}
    assert facts["customer_plan"] == "enterprise"
    assert facts["customer_attributes"] == {"seats": 40}
    assert frames[-1]["message"]["sender"] == "ai"


async def test_an_unverified_claim_is_ignored_and_logged(
    workspace, synced_source, confident_flow, caplog
):
    claim = {"user_id": "user-42", "user_hash": "0" * 64, "name": "Mallory", "plan": "enterprise"}
    with caplog.at_level(logging.WARNING, logger="conversations.services"):
        async with chat(**claim) as (socket, welcome):
            await message_to(socket, "q-1", ROUTINE_QUESTION)
            await frames_until(socket, is_reply)

    assert welcome["verified"] is False
    customer, facts = await _customer_and_last_facts(welcome["conversation_id"])
    assert (customer.external_id, customer.name, customer.plan) == ("", "", "")
    assert facts["customer_plan"] is None
    assert any("Unverified identity claim" in r.getMessage() for r in caplog.records)


@sync_to_async
def _customer_and_last_facts(conversation_id: int) -> tuple[Any, dict[str, Any]]:
    conversation = Conversation.objects.select_related("customer").get(pk=conversation_id)
    reply = Message.objects.filter(conversation=conversation, sender=Sender.AI).latest("id")
    assert reply.trace is not None
    return conversation.customer, reply.trace.trace["facts"]


async def test_the_ack_and_typing_arrive_while_the_ai_is_still_writing(
    workspace, synced_source, confident_flow, monkeypatch
):
    """In-process (no workers), the reply is computed after the ack, not inside the store: the
    customer sees their message accepted and the typing indicator at once."""
    import threading

    from conversations import consumers

    writing, may_finish = threading.Event(), threading.Event()
    real_reply = consumers.conversation_reply

    def slow_reply(**kwargs: Any) -> Any:
        writing.set()
        may_finish.wait(timeout=30)
        return real_reply(**kwargs)

    monkeypatch.setattr(consumers, "conversation_reply", slow_reply)
    async with chat() as (socket, _):
        await socket.send_json_to({"type": "message", "client_id": "m1", "text": ROUTINE_QUESTION})

        ack = await socket.receive_json_from(timeout=10)
        typing = await socket.receive_json_from(timeout=10)
        assert (ack["type"], typing["type"]) == ("ack", "typing")
        assert await sync_to_async(writing.wait)(10)  # the AI is writing right now
        may_finish.set()
        frames = await frames_until(socket, is_reply)
        assert summary(frames) == [("message", "customer"), ("message", "ai")]


# --- streaming ---------------------------------------------------------------------------------


async def test_an_llm_reply_streams_to_the_chat_before_the_stored_reply_replaces_it(
    workspace, admin, synced_source
):
    from tests.routing.fake_openai import FakeOpenAI
    from tests.routing.test_pipeline_llm import RESET_ANSWER, publish_llm_flow

    endpoint = FakeOpenAI()
    endpoint.start()
    try:
        endpoint.reply = RESET_ANSWER
        await sync_to_async(publish_llm_flow)(workspace, admin, endpoint.base_url)
        async with chat() as (socket, _):
            await message_to(socket, "q-1", ROUTINE_QUESTION)
            frames = await frames_until(socket, is_reply)
    finally:
        endpoint.stop()

    deltas = [frame for frame in frames if frame["type"] == "reply_delta"]
    mine = next(f["message"] for f in frames if is_message_from(f, "customer"))
    answer = frames[-1]["message"]
    assert deltas, summary(frames)
    assert {delta["reply_to"] for delta in deltas} == {mine["id"]}
    streamed = "".join(delta["text"] for delta in deltas)
    # What streamed is the model's text without its citation markers; the stored reply adds
    # the source lines.
    assert streamed.strip() == "The reset link is valid for 30 minutes and works once."
    assert answer["sender"] == "ai" and answer["text"].startswith(streamed.strip())
    assert [c["title"] for c in answer["citations"]] == ["Reset your password"]


def is_message_from(frame: dict[str, Any], sender: str) -> bool:
    return frame["type"] == "message" and frame["message"]["sender"] == sender


async def test_the_grounded_composer_sends_no_provisional_text(
    workspace, synced_source, confident_flow
):
    async with chat() as (socket, _):
        await message_to(socket, "q-1", ROUTINE_QUESTION)
        frames = await frames_until(socket, is_reply)

    assert "reply_delta" not in {frame["type"] for frame in frames}
