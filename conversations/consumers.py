"""The customer's chat socket: one conversation per socket, JSON frames both ways.

The protocol is in README.md ("Customer chat"). The consumer parses frames and calls services;
everything the customer sees of the conversation (their own messages included) comes from the
conversation's group, which services only send to after the change commits.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError

from conversations.models import Conversation, Message
from conversations.rate_limits import rate_limit_exceeded_async
from conversations.realtime import conversation_group_name
from conversations.selectors import messages_after, workspace_of_slug
from conversations.serializers import customer_message_json
from conversations.services import (
    MESSAGE_MAX_LENGTH,
    ConversationStateError,
    chat_conversation_open,
    conversation_rate,
    conversation_reply,
    customer_message_post,
)
from conversations.tokens import conversation_token_make

logger = logging.getLogger(__name__)

# Close codes in the 4000 range are ours to define (RFC 6455 section 7.4.2).
CLOSE_UNKNOWN_WORKSPACE = 4404
# A frame is refused before it is parsed when it is longer than any valid message could be
# (4000 characters, each escaped as \\uXXXX at worst, plus the envelope).
FRAME_MAX_CHARS = MESSAGE_MAX_LENGTH * 6 + 1024
IDENTITY_PARAMS = ("user_id", "user_hash", "name", "email", "plan", "attributes")


class ChatError(Exception):
    """A frame the chat refuses: answered with an error frame, the socket stays open."""

    def __init__(self, code: str, error: str) -> None:
        super().__init__(error)
        self.code = code
        self.error = error


class CustomerChatConsumer(AsyncJsonWebsocketConsumer):
    conversation_id: int = 0  # set on connect, before any frame can arrive
    group_name: str | None = None

    async def connect(self) -> None:
        opened = await self._conversation_open()
        if opened is None:
            await self.close(code=CLOSE_UNKNOWN_WORKSPACE)
            return
        conversation, verified = opened
        self.conversation_id = conversation.pk
        self.group_name = conversation_group_name(conversation.pk)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        await self.send_json(
            {
                "type": "welcome",
                "conversation_id": conversation.pk,
                "token": conversation_token_make(
                    workspace_id=conversation.workspace_id, conversation_id=conversation.pk
                ),
                "status": conversation.status,
                "verified": verified,
            }
        )

    async def disconnect(self, code: int) -> None:
        if self.group_name is not None:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        # Every frame counts against the limits, malformed ones too: a flood is a flood.
        try:
            await self._rate_check()
            content = await self._frame_decode(text_data)
            await self.receive_json(content, **kwargs)
        except ChatError as error:
            await self.send_json({"type": "error", "code": error.code, "error": error.error})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        frame_type = content.get("type") if isinstance(content, dict) else None
        if frame_type == "message":
            await self._message(content)
        elif frame_type == "resume":
            await self._resume(content)
        elif frame_type == "csat":
            await self._csat(content)
        else:
            raise ChatError("unknown_type", "Send a frame of type message, resume or csat.")

    async def conversation_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    # --- frames ------------------------------------------------------------------------------

    async def _message(self, content: dict[str, Any]) -> None:
        client_id, text = content.get("client_id"), content.get("text")
        # With workers (REDIS_URL) the reply job goes to Celery. In-process, a job "scheduled"
        # on commit would run inside this store, so the ack would wait for the whole AI reply:
        # store first, ack, then answer here.
        in_process = bool(settings.CELERY_TASK_ALWAYS_EAGER)
        stored, created, ai_will_reply = await self._message_post(
            text, client_id, reply_in_background=not in_process
        )
        await self.send_json(
            {"type": "ack", "client_id": stored.client_id, "message_id": stored.pk}
        )
        if created and ai_will_reply:
            # Sent before the group's events for this message are relayed (this consumer handles
            # one thing at a time), so the indicator always precedes the reply it announces.
            await self.send_json({"type": "typing", "who": "ai"})
            if in_process:
                await self._reply(stored.pk)

    async def _resume(self, content: dict[str, Any]) -> None:
        last_seen_id = content.get("last_seen_id", 0)
        if isinstance(last_seen_id, bool) or not isinstance(last_seen_id, int) or last_seen_id < 0:
            raise ChatError("invalid_last_seen_id", "last_seen_id must be a message id (or 0).")
        missed, status = await self._missed_messages(last_seen_id)
        for message in missed:
            await self.send_json({"type": "message", "message": message})
        await self.send_json({"type": "resumed", "status": status})

    async def _csat(self, content: dict[str, Any]) -> None:
        await self._rate(content.get("rating"), content.get("comment", ""))
        await self.send_json({"type": "csat_thanks"})

    # --- helpers -----------------------------------------------------------------------------

    async def _frame_decode(self, text_data: str | None) -> Any:
        if text_data is None:
            raise ChatError("malformed", "Send JSON text frames.")
        if len(text_data) > FRAME_MAX_CHARS:
            raise ChatError("too_long", f"At most {MESSAGE_MAX_LENGTH} characters, please.")
        try:
            return await self.decode_json(text_data)
        except ValueError:
            raise ChatError("malformed", "Malformed frame: send JSON.") from None

    async def _rate_check(self) -> None:
        client = self.scope.get("client") or ("unknown", 0)
        over_conversation = await rate_limit_exceeded_async(
            f"conversation:{self.conversation_id}", rate=settings.CHAT_RATE_LIMIT
        )
        over_address = await rate_limit_exceeded_async(
            f"ip:{client[0]}", rate=settings.CHAT_IP_RATE_LIMIT
        )
        if over_conversation or over_address:
            raise ChatError("rate_limited", "Too many messages at once: wait a few seconds.")

    @database_sync_to_async
    def _conversation_open(self) -> tuple[Conversation, bool] | None:
        workspace = workspace_of_slug(slug=self.scope["url_route"]["kwargs"]["workspace_slug"])
        if workspace is None:
            return None
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        identity = {name: query[name][0] for name in IDENTITY_PARAMS if query.get(name)}
        token = query["token"][0] if query.get("token") else None
        conversation = chat_conversation_open(workspace=workspace, token=token, identity=identity)
        return conversation, conversation.customer.verified

    @database_sync_to_async
    def _message_post(
        self, text: Any, client_id: Any, *, reply_in_background: bool
    ) -> tuple[Message, bool, bool]:
        conversation = Conversation.objects.get(pk=self.conversation_id)
        try:
            message, created = customer_message_post(
                conversation=conversation,
                text=text,
                client_id=client_id,
                reply_in_background=reply_in_background,
            )
        except ValidationError as error:
            raise _message_error(error, text) from None
        # The service stored the message on the conversation as it was after the change.
        return message, created, not message.conversation.is_human_owned

    @database_sync_to_async
    def _reply(self, message_id: int) -> None:
        try:
            conversation_reply(conversation_id=self.conversation_id, message_id=message_id)
        except Exception:
            # As for a failed reply job: logged, the socket stays up, and resending the same
            # client_id over the REST API with `wait` answers it.
            logger.exception("Reply to message %s failed", message_id)

    @database_sync_to_async
    def _rate(self, rating: Any, comment: Any) -> None:
        conversation = Conversation.objects.get(pk=self.conversation_id)
        try:
            conversation_rate(conversation=conversation, rating=rating, comment=comment)
        except ValidationError as error:
            fields = error.message_dict if hasattr(error, "error_dict") else {}
            code = "invalid_comment" if "comment" in fields else "invalid_rating"
            raise ChatError(code, "; ".join(error.messages)) from None
        except ConversationStateError as error:
            raise ChatError("not_resolved", str(error)) from None

    @database_sync_to_async
    def _missed_messages(self, last_seen_id: int) -> tuple[list[dict[str, Any]], str]:
        conversation = Conversation.objects.get(pk=self.conversation_id)
        messages = messages_after(
            conversation=conversation, after_id=last_seen_id, customer_view=True
        )
        return [customer_message_json(message) for message in messages], conversation.status


def _message_error(error: ValidationError, text: Any) -> ChatError:
    fields = error.message_dict if hasattr(error, "error_dict") else {}
    if "client_id" in fields:
        return ChatError("invalid_client_id", fields["client_id"][0])
    if isinstance(text, str) and len(text.strip()) > MESSAGE_MAX_LENGTH:
        return ChatError("too_long", f"At most {MESSAGE_MAX_LENGTH} characters, please.")
    return ChatError("invalid_text", "; ".join(fields.get("text", error.messages)))
