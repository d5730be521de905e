"""Writes of conversations: starting one, the customer's messages, the AI's reply job, and what
agents do (claim, reply, note, resolve).

Every change commits first and is broadcast in `transaction.on_commit` (conversations.realtime),
so nobody is shown a message that was rolled back. Changes to one conversation lock its row, so
two requests for the same conversation (a resent message, a claim racing a reply) take turns.

Who speaks when:
- status ai: the AI replies to each customer message (a reply job per message, after commit);
- waiting (handed off, unclaimed) or assigned (an agent owns it): the AI stays silent;
- resolved: a new customer message reopens the conversation to the AI, as a fresh start
  (no queue, no assignee, normal priority, AI turns counted from zero).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from console.access import ADMINS_AND_AGENTS
from console.models import Membership, Role, User, Workspace
from conversations.action_requests import action_request_propose
from conversations.models import (
    Conversation,
    ConversationStatus,
    Customer,
    Handoff,
    Message,
    MessageKind,
    Priority,
    Sender,
)
from conversations.realtime import (
    ReplyStream,
    conversation_event_broadcast,
    handoff_broadcast,
    inbox_broadcast,
    message_broadcast,
    status_broadcast,
)
from conversations.selectors import (
    conversation_of_workspace,
    handoff_for_message,
    message_context,
    reply_to_message,
)
from conversations.tokens import conversation_token_read, identity_verify
from routing.flow_settings import DEFAULT_HANDOFF_MESSAGES, SUPPORTED_LANGUAGES
from routing.models import DecisionSource, FlowVersion, Queue
from routing.pipeline import MessageDecision, flow_message_decide
from routing.selectors import published_version, queues_of_workspace
from routing.services import decision_trace_record

logger = logging.getLogger(__name__)

MESSAGE_MAX_LENGTH = 4000
CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
CUSTOMER_TEXT_MAX_LENGTHS = {"external_id": 128, "name": 200, "email": 254, "plan": 60}
CUSTOMER_FIELDS = (*CUSTOMER_TEXT_MAX_LENGTHS, "attributes")
ATTRIBUTES_MAX = 50
ATTRIBUTE_NAME_MAX_LENGTH = 64
ATTRIBUTE_TEXT_MAX_LENGTH = 500
NO_FLOW_REASON = "no_published_flow"
CSAT_COMMENT_MAX_LENGTH = 1000
HAND_BACK_TEXT = "You're back with our assistant."
# The customer is not told the queue's name: queue names are the team's own vocabulary.
TRANSFER_TEXT = "We're passing you to a colleague who can help further."

# The conversation fields each change writes (`save(update_fields=...)`).
REOPEN_FIELDS = (
    "status",
    "assignee",
    "queue",
    "priority",
    "ai_turns",
    "handed_off_at",
    "resolved_at",
)
HANDOFF_FIELDS = ("status", "queue", "priority", "handed_off_at")
REPLY_FIELDS = ("language", "flow_version", "tags", "ai_turns", *HANDOFF_FIELDS, "updated_at")


class ConversationStateError(Exception):
    """The request does not fit the conversation's state (claiming one another agent owns)."""


@dataclass(frozen=True)
class ReplyResult:
    """What the reply job stored for one customer message."""

    message: Message  # the AI's reply (or the system's, when no flow is published)
    handoff: Handoff | None  # when the conversation was handed to humans


# --- customers and conversations -------------------------------------------------------------


@transaction.atomic
def conversation_start(
    *, workspace: Workspace, customer_data: Any, verified: bool = False
) -> Conversation:
    """Start a conversation for a customer described by `customer_data` (external_id, name,
    email, plan, attributes; all optional).

    `verified` says the company vouched for these details (a request with its API key or a
    console session). A verified `external_id` finds the same customer again and updates their
    details; an unverified one is dropped, so nobody can claim to be someone else's customer.
    """
    fields = customer_data_validate(customer_data)
    if verified and fields.get("external_id"):
        customer, _ = Customer.objects.get_or_create(
            workspace=workspace, external_id=fields["external_id"]
        )
        for name, value in fields.items():
            setattr(customer, name, value)
        customer.verified = True
        customer.save()
    else:
        fields.pop("external_id", None)
        customer = Customer.objects.create(workspace=workspace, verified=verified, **fields)
    return Conversation.objects.create(workspace=workspace, customer=customer)


def customer_data_validate(data: Any) -> dict[str, Any]:
    """The customer's details, checked: errors name the field."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationError("Send the customer as an object: external_id, name, email, plan.")
    fields: dict[str, Any] = {}
    for name, value in data.items():
        if name not in CUSTOMER_FIELDS:
            raise ValidationError(
                {name: f"Unknown customer field: use {', '.join(CUSTOMER_FIELDS)}."}
            )
        if name == "attributes":
            fields[name] = _attributes_validate(value)
        else:
            fields[name] = _customer_text_validate(name, value)
    if fields.get("email"):
        try:
            validate_email(fields["email"])
        except ValidationError:
            raise ValidationError({"email": "Enter a valid email address."}) from None
    return fields


def _customer_text_validate(name: str, value: Any) -> str:
    limit = CUSTOMER_TEXT_MAX_LENGTHS[name]
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise ValidationError({name: f"Must be text of at most {limit} characters."})
    return value.strip()


def _attributes_validate(value: Any) -> dict[str, str | int | float | bool]:
    # Flat on purpose: rules compare attributes with plain operators, and the brief shows them
    # as a list; nested objects would need a query language for neither.
    if not isinstance(value, dict):
        raise ValidationError({"attributes": "Send attributes as an object of names to values."})
    if len(value) > ATTRIBUTES_MAX:
        raise ValidationError({"attributes": f"At most {ATTRIBUTES_MAX} attributes."})
    for name, item in value.items():
        if not isinstance(name, str) or not name or len(name) > ATTRIBUTE_NAME_MAX_LENGTH:
            raise ValidationError(
                {"attributes": f"Attribute names have 1 to {ATTRIBUTE_NAME_MAX_LENGTH} characters."}
            )
        plain = isinstance(item, bool | int) or (isinstance(item, float) and math.isfinite(item))
        short_text = isinstance(item, str) and len(item) <= ATTRIBUTE_TEXT_MAX_LENGTH
        if not (plain or short_text):
            raise ValidationError(
                {
                    "attributes": f"The attribute {name!r} must be a text of at most "
                    f"{ATTRIBUTE_TEXT_MAX_LENGTH} characters, a number or true/false."
                }
            )
    return dict(value)


# --- the customer's messages -----------------------------------------------------------------


@transaction.atomic
def customer_message_post(
    *, conversation: Conversation, text: Any, client_id: Any, reply_in_background: bool = True
) -> tuple[Message, bool]:
    """Store a customer message once per `client_id`; returns it and whether it is new.

    A resent `client_id` returns the stored message (with its original text) and schedules
    nothing. A new message is broadcast after commit and, unless a human owns the conversation,
    the AI's reply job is scheduled after commit too. `reply_in_background=False` leaves the
    reply to the caller (`conversation_reply` in the same request: the API's `wait`).
    """
    text = _message_text_validate(text)
    client_id = _client_id_validate(client_id)
    locked = _locked(conversation)
    stored = (
        Message.objects.filter(conversation=locked, sender=Sender.CUSTOMER, client_id=client_id)
        .select_related("author")
        .first()
    )
    if stored is not None:
        return stored, False
    now = timezone.now()
    reopened = locked.status == ConversationStatus.RESOLVED
    if reopened:
        _reopen_to_ai(locked)
    locked.last_customer_message_at = now
    changed = [*(REOPEN_FIELDS if reopened else ()), "last_customer_message_at", "updated_at"]
    locked.save(update_fields=changed)
    message = Message.objects.create(
        conversation=locked,
        workspace_id=locked.workspace_id,
        sender=Sender.CUSTOMER,
        text=text,
        client_id=client_id,
    )
    message_broadcast(message, to_inbox=locked.is_human_owned)
    if reopened:
        status_broadcast(locked)
    if not locked.is_human_owned and reply_in_background:
        transaction.on_commit(partial(_reply_schedule, locked.pk, message.pk), robust=True)
    return message, True


def _reopen_to_ai(conversation: Conversation) -> None:
    conversation.status = ConversationStatus.AI
    conversation.assignee = None
    conversation.queue = None
    conversation.priority = Priority.NORMAL
    conversation.ai_turns = 0
    conversation.handed_off_at = None
    conversation.resolved_at = None


def _reply_schedule(conversation_id: int, message_id: int) -> None:
    from conversations.tasks import conversation_reply_task  # the task module imports this one

    conversation_reply_task.delay(conversation_id, message_id)


def _message_text_validate(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValidationError({"text": "Write a message."})
    text = text.strip()
    if len(text) > MESSAGE_MAX_LENGTH:
        raise ValidationError({"text": f"At most {MESSAGE_MAX_LENGTH} characters, please."})
    return text


def _client_id_validate(client_id: Any) -> str:
    if not isinstance(client_id, str) or not CLIENT_ID_PATTERN.fullmatch(client_id):
        raise ValidationError(
            {"client_id": "Send 1 to 64 letters, digits, '-' or '_' that identify this message."}
        )
    return client_id


# --- the AI's reply --------------------------------------------------------------------------


def conversation_reply(*, conversation_id: int, message_id: int) -> ReplyResult | None:
    """The reply job: run the published flow on one customer message and store what it decided.

    Idempotent: once a reply to the message is stored, running again returns it. Returns None
    when the AI must stay silent (a human owns the conversation, or it was resolved meanwhile).
    The flow runs outside any transaction or lock (an LLM may take seconds); the result is
    stored only if, by then, nobody else replied and no human took the conversation.
    """
    message = (
        Message.objects.select_related("conversation__customer", "conversation__workspace")
        .filter(pk=message_id, conversation_id=conversation_id, sender=Sender.CUSTOMER)
        .first()
    )
    if message is None:
        return None
    stored = _stored_reply(message)
    if stored is not None:
        return stored
    conversation = message.conversation
    if conversation.status != ConversationStatus.AI:
        return None
    version = published_version(workspace=conversation.workspace)
    if version is None:
        return _no_flow_hand_off(message)
    stream = ReplyStream(conversation_id=conversation.pk, reply_to=message.pk)
    decision = flow_message_decide(
        version=version,
        workspace_id=conversation.workspace_id,
        message=message.text,
        context=message_context(conversation=conversation, message=message),
        streaming_callback=stream,  # only an LLM generator streams
    )
    stream.flush()
    return _decision_store(message=message, version=version, decision=decision)


def _stored_reply(message: Message) -> ReplyResult | None:
    reply = reply_to_message(message=message)
    if reply is None:
        return None
    return ReplyResult(message=reply, handoff=handoff_for_message(message=message))


@transaction.atomic
def _decision_store(
    *, message: Message, version: FlowVersion, decision: MessageDecision
) -> ReplyResult | None:
    conversation = _locked(message.conversation)
    stored = _stored_reply(message)
    if stored is not None:  # another run of the job won the race
        return stored
    if conversation.status != ConversationStatus.AI:  # an agent took over while the AI thought
        return None
    trace = decision_trace_record(
        workspace=conversation.workspace,
        flow=version.flow,
        version=version,
        draft_revision=None,
        source=DecisionSource.CONVERSATION,
        message=message.text,
        decision=decision,
    )
    reply = Message.objects.create(
        conversation=conversation,
        workspace_id=conversation.workspace_id,
        sender=Sender.AI,
        text=decision.reply,
        citations=decision.citations,
        trace=trace,
        reply_to=message,
    )
    conversation.language = decision.language
    conversation.flow_version = version
    conversation.tags = _tags_merged(conversation.tags, decision.tags)
    if decision.outcome == "answer":
        conversation.ai_turns += 1
    handoff = None
    if decision.outcome == "handoff":
        handoff = _hand_off(
            conversation,
            message=message,
            reason=decision.reason,
            priority=decision.priority,
            queue_name=decision.queue,
            brief=decision.brief,
        )
    conversation.save(update_fields=REPLY_FIELDS)
    _reply_broadcast(reply, handoff)
    if decision.outcome in ("answer", "handoff"):
        # The LLM's tool call, or else the offline phrasing match; either is only a proposal:
        # the request service applies the action's policy.
        action_request_propose(
            conversation=conversation, message=message, proposed=decision.action_call
        )
    return ReplyResult(message=reply, handoff=handoff)


def _tags_merged(tags: list[str], new: list[str]) -> list[str]:
    """Tags only accumulate: a rule tagged the conversation once, the inbox filters on it."""
    return [*tags, *(tag for tag in dict.fromkeys(new) if tag not in tags)]


@transaction.atomic
def _no_flow_hand_off(message: Message) -> ReplyResult | None:
    """Without a published flow the AI cannot answer: hand the conversation to humans, with a
    system message so the customer is not left waiting for an answer that never comes."""
    conversation = _locked(message.conversation)
    stored = _stored_reply(message)
    if stored is not None:
        return stored
    if conversation.status != ConversationStatus.AI:
        return None
    language = conversation.language if conversation.language in SUPPORTED_LANGUAGES else "en"
    reply = Message.objects.create(
        conversation=conversation,
        workspace_id=conversation.workspace_id,
        sender=Sender.SYSTEM,
        kind=MessageKind.EVENT,
        text=DEFAULT_HANDOFF_MESSAGES[language],
        reply_to=message,
    )
    brief = {
        "reason": NO_FLOW_REASON,
        "wants": message.text,
        "context": "No support flow is published, so the AI did not answer.",
    }
    handoff = _hand_off(
        conversation,
        message=message,
        reason=NO_FLOW_REASON,
        priority=Priority.NORMAL,
        queue_name="",
        brief=brief,
    )
    conversation.save(update_fields=[*HANDOFF_FIELDS, "updated_at"])
    _reply_broadcast(reply, handoff)
    return ReplyResult(message=reply, handoff=handoff)


def _hand_off(
    conversation: Conversation,
    *,
    message: Message,
    reason: str,
    priority: str,
    queue_name: str,
    brief: dict[str, Any],
) -> Handoff:
    """Put the (locked) conversation on a queue, waiting for an agent; the caller saves it."""
    queue = _handoff_queue(conversation.workspace, queue_name)
    priority = priority if priority in Priority.values else Priority.NORMAL
    handoff = Handoff.objects.create(
        conversation=conversation,
        workspace_id=conversation.workspace_id,
        message=message,
        reason=reason,
        priority=priority,
        queue=queue,
        brief=brief,
    )
    conversation.status = ConversationStatus.WAITING
    conversation.queue = queue
    conversation.priority = priority
    conversation.handed_off_at = handoff.created_at
    return handoff


def _handoff_queue(workspace: Workspace, name: str) -> Queue | None:
    """The queue the flow named; when it is gone (deleted after the version was published) or
    unnamed, the lowest tier, where any agent can pick the conversation up."""
    queues = queues_of_workspace(workspace=workspace)
    return (queues.filter(name=name).first() if name else None) or queues.first()


def _reply_broadcast(reply: Message, handoff: Handoff | None) -> None:
    message_broadcast(reply, to_inbox=False)
    if handoff is not None:
        handoff_broadcast(handoff)
        status_broadcast(reply.conversation)


# --- what agents do --------------------------------------------------------------------------


@transaction.atomic
def conversation_claim(*, conversation: Conversation, agent: User) -> Conversation:
    """The agent takes the conversation: it is assigned to them and the AI stops replying.
    Claiming one's own conversation again changes nothing."""
    _agent_check(conversation.workspace_id, agent)
    locked = _locked(conversation)
    if locked.status == ConversationStatus.RESOLVED:
        raise ConversationStateError("This conversation is resolved.")
    if locked.status == ConversationStatus.ASSIGNED:
        if locked.assignee_id == agent.pk:
            return locked
        raise ConversationStateError(f"{locked.assignee} already owns this conversation.")
    _take_over(locked, agent)
    return locked


@transaction.atomic
def agent_message_post(
    *, conversation: Conversation, agent: User, text: Any, internal: bool = False
) -> Message:
    """An agent's reply to the customer, or an internal note (`internal`) for the other agents,
    which the customer never sees.

    Replying to the customer means owning the conversation: if nobody does (the AI has it, it
    waits in a queue, or it was resolved), the agent takes it first, so the AI goes silent. An
    agent may answer in a colleague's conversation without taking it from them.
    """
    _agent_check(conversation.workspace_id, agent)
    text = _message_text_validate(text)
    locked = _locked(conversation)
    if not internal and locked.status != ConversationStatus.ASSIGNED:
        _take_over(locked, agent)
    message = Message.objects.create(
        conversation=locked,
        workspace_id=locked.workspace_id,
        sender=Sender.AGENT,
        kind=MessageKind.NOTE if internal else MessageKind.TEXT,
        text=text,
        author=agent,
    )
    message_broadcast(message, to_inbox=True)
    return message


@transaction.atomic
def conversation_resolve(*, conversation: Conversation, by: User | None) -> Conversation:
    """Close the conversation. `by` is the agent or admin, or None for the workspace's API key
    (the company's backend closing it). Resolving a resolved conversation changes nothing."""
    if by is not None:
        _agent_check(conversation.workspace_id, by)
    locked = _locked(conversation)
    if locked.status == ConversationStatus.RESOLVED:
        return locked
    locked.status = ConversationStatus.RESOLVED
    locked.resolved_at = timezone.now()
    locked.save(update_fields=["status", "resolved_at", "updated_at"])
    event = _event_store(locked, "This conversation was resolved.")
    message_broadcast(event, to_inbox=False)
    status_broadcast(locked)
    conversation_event_broadcast(conversation_id=locked.pk, event={"type": "csat_request"})
    inbox_broadcast(locked, change="resolved")
    return locked


@transaction.atomic
def conversation_rate(
    *, conversation: Conversation, rating: Any, comment: Any = ""
) -> Conversation:
    """The customer's rating (1-5, with an optional comment) of a resolved conversation.

    One rating per conversation: rating again replaces the rating and the comment (a customer who
    clicked the wrong star can correct it). A conversation that is not resolved cannot be rated.
    """
    rating, comment = _rating_validate(rating, comment)
    locked = _locked(conversation)
    if locked.status != ConversationStatus.RESOLVED:
        raise ConversationStateError("Only a resolved conversation can be rated.")
    locked.csat_rating = rating
    locked.csat_comment = comment
    locked.save(update_fields=["csat_rating", "csat_comment", "updated_at"])
    return locked


def _rating_validate(rating: Any, comment: Any) -> tuple[int, str]:
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationError({"rating": "Rate the conversation from 1 to 5."})
    if comment is None:
        comment = ""
    if not isinstance(comment, str) or len(comment.strip()) > CSAT_COMMENT_MAX_LENGTH:
        raise ValidationError(
            {"comment": f"A comment is text of at most {CSAT_COMMENT_MAX_LENGTH} characters."}
        )
    return rating, comment.strip()


@transaction.atomic
def conversation_hand_back(*, conversation: Conversation, agent: User) -> Conversation:
    """The agent gives the conversation back to the AI, which answers the customer's next
    message again (its turns counted from zero, so it is not handed off at once for them)."""
    _agent_check(conversation.workspace_id, agent)
    locked = _locked(conversation)
    if not locked.is_human_owned:
        raise ConversationStateError("Only a conversation with an agent can go back to the AI.")
    locked.status = ConversationStatus.AI
    locked.assignee = None
    locked.ai_turns = 0
    locked.save(update_fields=["status", "assignee", "ai_turns", "updated_at"])
    event = _event_store(locked, HAND_BACK_TEXT)
    message_broadcast(event, to_inbox=False)
    status_broadcast(locked)
    inbox_broadcast(locked, change="handed_back")
    return locked


@transaction.atomic
def conversation_transfer(*, conversation: Conversation, agent: User, queue: Queue) -> Conversation:
    """Put the conversation on another queue of its workspace, unassigned, waiting for an agent
    of that queue."""
    _agent_check(conversation.workspace_id, agent)
    if queue.workspace_id != conversation.workspace_id:
        raise ValidationError({"queue": "Choose a queue of this workspace."})
    locked = _locked(conversation)
    if locked.status == ConversationStatus.RESOLVED:
        raise ConversationStateError("This conversation is resolved.")
    locked.status = ConversationStatus.WAITING
    locked.assignee = None
    locked.queue = queue
    locked.handed_off_at = locked.handed_off_at or timezone.now()
    locked.save(update_fields=["status", "assignee", "queue", "handed_off_at", "updated_at"])
    event = _event_store(locked, TRANSFER_TEXT)
    message_broadcast(event, to_inbox=False)
    status_broadcast(locked)
    inbox_broadcast(locked, change="transferred")
    return locked


@transaction.atomic
def conversation_assign(*, conversation: Conversation, by: User, assignee: User) -> Conversation:
    """`by` (an agent or admin) gives the conversation to `assignee`, another agent or admin of
    the workspace, even if a colleague has it: a lead rebalancing the queue. The AI stops
    replying. Assigning it to whoever has it already changes nothing."""
    _agent_check(conversation.workspace_id, by)
    try:
        _agent_check(conversation.workspace_id, assignee)
    except PermissionDenied:
        raise ValidationError({"assignee": "Choose an agent or admin of this workspace."}) from None
    locked = _locked(conversation)
    if locked.status == ConversationStatus.RESOLVED:
        raise ConversationStateError("This conversation is resolved: reopen it first.")
    if locked.status == ConversationStatus.ASSIGNED and locked.assignee_id == assignee.pk:
        return locked
    _take_over(locked, assignee, change="assigned")
    return locked


@transaction.atomic
def conversation_reopen(*, conversation: Conversation, agent: User) -> Conversation:
    """An agent reopens a resolved conversation to follow up: it is theirs, the AI stays silent,
    and resolving it again asks the customer for a new rating."""
    _agent_check(conversation.workspace_id, agent)
    locked = _locked(conversation)
    if locked.status != ConversationStatus.RESOLVED:
        raise ConversationStateError("Only a resolved conversation can be reopened.")
    _take_over(locked, agent, change="reopened")
    return locked


def _take_over(conversation: Conversation, agent: User, *, change: str = "claimed") -> None:
    """Assign the (locked) conversation to `agent`, mark its open handoffs claimed and tell the
    customer someone joined."""
    now = timezone.now()
    conversation.status = ConversationStatus.ASSIGNED
    conversation.assignee = agent
    conversation.resolved_at = None
    conversation.save(update_fields=["status", "assignee", "resolved_at", "updated_at"])
    Handoff.objects.filter(conversation=conversation, claimed_at__isnull=True).update(
        claimed_at=now, claimed_by=agent
    )
    # The customer sees the agent's name, never their email.
    event = _event_store(conversation, f"{agent.name or 'An agent'} joined the conversation.")
    message_broadcast(event, to_inbox=False)
    status_broadcast(conversation)
    inbox_broadcast(conversation, change=change)


def _event_store(conversation: Conversation, text: str) -> Message:
    return Message.objects.create(
        conversation=conversation,
        workspace_id=conversation.workspace_id,
        sender=Sender.SYSTEM,
        kind=MessageKind.EVENT,
        text=text,
    )


def _agent_check(workspace_id: int, user: User) -> None:
    role = (
        Membership.objects.filter(workspace_id=workspace_id, user=user, user__is_active=True)
        .values_list("role", flat=True)
        .first()
    )
    if role is None or Role(role) not in ADMINS_AND_AGENTS:
        raise PermissionDenied("Only agents and admins of this workspace can do that.")


def _locked(conversation: Conversation) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("workspace", "customer", "queue", "assignee", "flow_version")
        .get(pk=conversation.pk)
    )


# --- the customer chat -----------------------------------------------------------------------


def chat_conversation_open(
    *, workspace: Workspace, token: str | None, identity: Mapping[str, str]
) -> Conversation:
    """The conversation a chat socket joins: the one its conversation token names, or a new one
    when there is no token or it is no good (tampered, expired, another workspace's, or its
    conversation is gone), so a customer is never stuck on a dead token.

    `identity` holds the page's claims (user_id, user_hash, name, email, plan, attributes as a
    JSON object). They describe the new customer only when the company signed the user id;
    anything else is ignored and logged: the chat page is public, anyone can type a user id.
    """
    if token:
        conversation_id = conversation_token_read(token, workspace_id=workspace.pk)
        if conversation_id is not None:
            conversation = conversation_of_workspace(
                workspace=workspace, conversation_id=conversation_id
            )
            if conversation is not None:
                return conversation
        logger.info("Chat token refused in workspace %s: starting a conversation", workspace.slug)
    customer_data = _verified_customer_data(workspace, identity)
    if customer_data is not None:
        try:
            return conversation_start(
                workspace=workspace, customer_data=customer_data, verified=True
            )
        except ValidationError as error:
            logger.warning(
                "Verified chat customer %r of workspace %s has invalid details (%s): "
                "starting anonymously",
                customer_data["external_id"],
                workspace.slug,
                "; ".join(error.messages),
            )
    return conversation_start(workspace=workspace, customer_data=None)


def _verified_customer_data(
    workspace: Workspace, identity: Mapping[str, str]
) -> dict[str, Any] | None:
    user_id, signature = identity.get("user_id", ""), identity.get("user_hash", "")
    if not user_id and not signature:
        return None
    if not identity_verify(workspace=workspace, user_id=user_id, signature=signature):
        logger.warning(
            "Unverified identity claim in the chat of workspace %s (user id %r): ignored",
            workspace.slug,
            user_id[:128],
        )
        return None
    data: dict[str, Any] = {"external_id": user_id}
    data.update({name: identity[name] for name in ("name", "email", "plan") if identity.get(name)})
    if identity.get("attributes"):
        try:
            data["attributes"] = json.loads(identity["attributes"])
        except ValueError:
            data["attributes"] = identity["attributes"]  # customer_data_validate refuses it
    return data
