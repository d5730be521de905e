"""What the customer's chat and the agents' inbox are sent, after each change commits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from console.realtime import workspace_group_name
from conversations.realtime import conversation_group_name
from conversations.services import (
    agent_message_post,
    conversation_claim,
    conversation_resolve,
    conversation_start,
    customer_message_post,
)
from tests.conversations.conftest import ROUTINE_QUESTION

pytestmark = pytest.mark.django_db


class Listener:
    """A socket's channel in a group of the (in-memory) channel layer."""

    def __init__(self, group: str) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(group, self.channel)

    def events(self) -> list[dict[str, Any]]:
        return async_to_sync(self._drain)()

    async def _drain(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        while True:
            try:
                message = await asyncio.wait_for(self.layer.receive(self.channel), timeout=0.05)
            except TimeoutError:
                return events
            events.append(message["event"])


@pytest.fixture
def conversation(workspace):
    return conversation_start(workspace=workspace, customer_data={"name": "Dana"})


def test_the_chat_hears_the_customer_and_the_ai_answer(
    conversation, synced_source, confident_flow, after_commit
):
    chat = Listener(conversation_group_name(conversation.pk))
    inbox = Listener(workspace_group_name(conversation.workspace_id))

    with after_commit():
        customer_message_post(conversation=conversation, text=ROUTINE_QUESTION, client_id="m-1")

    events = chat.events()
    assert [(e["type"], e["message"]["sender"]) for e in events] == [
        ("message", "customer"),
        ("message", "ai"),
    ]
    assert events[0]["message"]["client_id"] == "m-1"
    assert events[1]["message"]["citations"][0]["external_id"] == "en/reset-password.md"
    assert "trace_id" not in events[1]["message"]  # the trace is for agents
    assert inbox.events() == []  # the AI has it: nothing for the agents yet


def test_a_handoff_reaches_the_inbox_with_its_brief(
    conversation, synced_source, confident_flow, after_commit
):
    chat = Listener(conversation_group_name(conversation.pk))
    inbox = Listener(workspace_group_name(conversation.workspace_id))

    with after_commit():
        customer_message_post(
            conversation=conversation, text="I want to talk to a human", client_id="m-1"
        )

    (handoff,) = inbox.events()
    assert handoff["type"] == "inbox.conversation" and handoff["change"] == "handoff"
    assert handoff["conversation"]["status"] == "waiting"
    assert handoff["conversation"]["queue"]["name"] == "Tier 1"
    assert handoff["handoff"]["brief"]["reason"] == "human_request"
    assert [e["type"] for e in chat.events()] == ["message", "message", "status"]


def test_notes_go_only_to_the_inbox_and_agent_replies_to_both(conversation, agent, after_commit):
    with after_commit():
        conversation_claim(conversation=conversation, agent=agent)
    chat = Listener(conversation_group_name(conversation.pk))
    inbox = Listener(workspace_group_name(conversation.workspace_id))

    with after_commit():
        agent_message_post(
            conversation=conversation, agent=agent, text="Check billing", internal=True
        )
        agent_message_post(conversation=conversation, agent=agent, text="Hi Dana!")
        customer_message_post(conversation=conversation, text="Hi!", client_id="m-1")

    assert [(e["message"]["sender"], e["message"]["text"]) for e in chat.events()] == [
        ("agent", "Hi Dana!"),
        ("customer", "Hi!"),
    ]
    inbox_messages = [
        (e["change"], e["message"]["text"], e["message"]["internal"]) for e in inbox.events()
    ]
    assert inbox_messages == [
        ("message", "Check billing", True),
        ("message", "Hi Dana!", False),
        ("message", "Hi!", False),
    ]


def _customer_event(event: dict) -> tuple[str, str]:
    return event["type"], event.get("status") or event.get("message", {}).get("text", "")


def test_claim_and_resolve_tell_the_customer_and_the_inbox(conversation, agent, after_commit):
    chat = Listener(conversation_group_name(conversation.pk))
    inbox = Listener(workspace_group_name(conversation.workspace_id))

    with after_commit():
        conversation_claim(conversation=conversation, agent=agent)
        conversation_resolve(conversation=conversation, by=agent)

    assert [_customer_event(e) for e in chat.events()] == [
        ("message", "Andy Agent joined the conversation."),
        ("status", "assigned"),
        ("message", "This conversation was resolved."),
        ("status", "resolved"),
        ("csat_request", ""),
    ]
    changes = [(e["change"], e["conversation"]["status"]) for e in inbox.events()]
    assert changes == [("claimed", "assigned"), ("resolved", "resolved")]


def test_nothing_is_sent_for_a_change_that_rolled_back(conversation, agent, after_commit):
    from django.db import transaction

    chat = Listener(conversation_group_name(conversation.pk))

    with after_commit():
        try:
            with transaction.atomic():
                customer_message_post(conversation=conversation, text="Hi", client_id="m-1")
                raise RuntimeError("the request failed after storing the message")
        except RuntimeError:
            pass

    assert chat.events() == []
