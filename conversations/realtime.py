"""Live events of conversations, over the channel layer, sent only after the change commits.

Two audiences:
- the customer's chat: one group per conversation gets {"type": "message", "message": ...} in
  the customer's view (never an internal note) and {"type": "status", "status": ...};
- the agents' inbox: the workspace's console group gets {"type": "inbox.conversation", ...} when
  a conversation is handed off, claimed, resolved, or gets a message while a human owns it, and
  for every internal note.

Payloads are serialised when the change is made (inside the transaction), so the event shows
the state that committed, not whatever the rows hold when the callback runs.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from console.realtime import workspace_event_broadcast
from conversations.models import Conversation, Handoff, Message
from conversations.serializers import (
    conversation_json,
    customer_message_json,
    handoff_json,
    message_json,
)

INBOX_EVENT = "inbox.conversation"

logger = logging.getLogger(__name__)


def conversation_group_name(conversation_id: int) -> str:
    return f"conversation-{conversation_id}"


def conversation_event_broadcast(*, conversation_id: int, event: dict[str, Any]) -> None:
    """Send `event` (JSON-serialisable) to every socket of the conversation, after commit."""

    def send() -> None:
        channel_layer = get_channel_layer()
        if channel_layer is None:
            return
        async_to_sync(channel_layer.group_send)(
            conversation_group_name(conversation_id),
            {"type": "conversation.event", "event": event},
        )

    # robust: the change is committed whatever happens to the event; a client that missed it
    # asks for what came after its last message id.
    transaction.on_commit(send, robust=True)


def message_broadcast(message: Message, *, to_inbox: bool) -> None:
    """The customer sees every message but notes; the inbox sees notes, and the rest when
    `to_inbox` (a human owns the conversation)."""
    if not message.is_internal:
        conversation_event_broadcast(
            conversation_id=message.conversation_id,
            event={"type": "message", "message": customer_message_json(message)},
        )
    if to_inbox or message.is_internal:
        inbox_broadcast(message.conversation, change="message", message=message_json(message))


def status_broadcast(conversation: Conversation) -> None:
    conversation_event_broadcast(
        conversation_id=conversation.pk,
        event={"type": "status", "status": conversation.status},
    )


def handoff_broadcast(handoff: Handoff) -> None:
    inbox_broadcast(handoff.conversation, change="handoff", handoff=handoff_json(handoff))


def inbox_broadcast(conversation: Conversation, *, change: str, **details: Any) -> None:
    """Tell the workspace's agents that `conversation` changed (`change`: handoff, claimed,
    resolved, message), with its summary as the inbox lists it."""
    workspace_event_broadcast(
        workspace_id=conversation.workspace_id,
        event={
            "type": INBOX_EVENT,
            "change": change,
            "conversation": conversation_json(conversation),
            **details,
        },
    )


class ReplyStream:
    """The AI's reply as the LLM writes it, to the customer's chat: `{"type": "reply_delta",
    "reply_to": <customer message id>, "text": <the next piece>}` events.

    Sent at once, not after a commit: the flow runs outside any transaction, and the text is
    provisional anyway (the stored reply, which may be the fallback instead, follows as a
    "message" event and replaces it). Pieces are joined until `FLUSH_SECONDS` have passed since
    the last send, so a fast model costs a few events a second, not one per token.
    """

    FLUSH_SECONDS = 0.1

    def __init__(self, *, conversation_id: int, reply_to: int) -> None:
        self.conversation_id = conversation_id
        self.reply_to = reply_to
        self._pending: list[str] = []
        self._last_sent = 0.0

    def __call__(self, piece: str) -> None:
        self._pending.append(piece)
        if time.monotonic() - self._last_sent >= self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        text = "".join(self._pending)
        self._pending.clear()
        if not text:
            return
        self._last_sent = time.monotonic()
        channel_layer = get_channel_layer()
        if channel_layer is None:
            return
        event = {"type": "reply_delta", "reply_to": self.reply_to, "text": text}
        try:
            async_to_sync(channel_layer.group_send)(
                conversation_group_name(self.conversation_id),
                {"type": "conversation.event", "event": event},
            )
        except Exception:
            # A lost piece of provisional text must never cost the reply itself.
            logger.warning("Streaming a reply piece failed", exc_info=True)
