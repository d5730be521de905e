"""Reads of conversations, scoped to a workspace: the inbox list, transcripts for replay, the
latest handoff, and what the support flow knows about a conversation when it replies."""

from __future__ import annotations

from typing import Any

from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce

from console.models import User, Workspace
from conversations.models import (
    HUMAN_OWNED_STATUSES,
    WAITING_ACTION_STATUSES,
    ActionRequest,
    ActionRequestEvent,
    Conversation,
    Customer,
    Handoff,
    Message,
    MessageKind,
    Priority,
    Sender,
)
from routing.pipeline import MessageContext

# The flow reads at most this many earlier customer messages (the simulator's limit too).
HISTORY_MAX_MESSAGES = 50

_PRIORITY_RANK = Case(
    When(priority=Priority.URGENT, then=Value(0)),
    When(priority=Priority.HIGH, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def conversations_of_workspace(*, workspace: Workspace) -> QuerySet[Conversation]:
    return Conversation.objects.filter(workspace=workspace).select_related(
        "customer", "queue", "assignee", "flow_version"
    )


def conversation_of_workspace(*, workspace: Workspace, conversation_id: int) -> Conversation | None:
    return conversations_of_workspace(workspace=workspace).filter(pk=conversation_id).first()


def conversation_list(
    *,
    workspace: Workspace,
    status: str | None = None,
    queue_id: int | None = None,
    priority: str | None = None,
    assignee: User | None = None,
    unassigned: bool = False,
    language: str | None = None,
) -> QuerySet[Conversation]:
    """The inbox: most urgent first, then the one waiting longest (since its handoff, or since
    it started when it never was handed off)."""
    conversations = conversations_of_workspace(workspace=workspace)
    if status:
        conversations = conversations.filter(status=status)
    if queue_id is not None:
        conversations = conversations.filter(queue_id=queue_id)
    if priority:
        conversations = conversations.filter(priority=priority)
    if assignee is not None:
        conversations = conversations.filter(assignee=assignee)
    if unassigned:
        conversations = conversations.filter(assignee__isnull=True)
    if language:
        conversations = conversations.filter(language=language)
    actions_waiting = Exists(
        ActionRequest.objects.filter(
            conversation=OuterRef("pk"), status__in=WAITING_ACTION_STATUSES
        )
    )
    return conversations.annotate(
        priority_rank=_PRIORITY_RANK,
        waiting_since=Coalesce("handed_off_at", "created_at"),
        actions_waiting=actions_waiting,
    ).order_by("priority_rank", "waiting_since", "id")


def messages_after(
    *, conversation: Conversation, after_id: int = 0, customer_view: bool = False
) -> QuerySet[Message]:
    """The conversation's messages stored after message `after_id`, oldest first: what a client
    that last saw `after_id` missed. The customer's view leaves out internal notes."""
    messages = Message.objects.filter(
        workspace_id=conversation.workspace_id, conversation=conversation, id__gt=after_id
    ).select_related("author")
    if customer_view:
        messages = messages.exclude(kind=MessageKind.NOTE)
    return messages.order_by("id")


def handoff_latest(*, conversation: Conversation) -> Handoff | None:
    return (
        Handoff.objects.filter(workspace_id=conversation.workspace_id, conversation=conversation)
        .select_related("queue", "claimed_by", "conversation")
        .order_by("-id")
        .first()
    )


def handoff_for_message(*, message: Message) -> Handoff | None:
    """The handoff the AI made on this customer message, if it handed off."""
    return (
        Handoff.objects.filter(workspace_id=message.workspace_id, message=message)
        .select_related("queue", "claimed_by", "conversation")
        .first()
    )


def reply_to_message(*, message: Message) -> Message | None:
    """The AI's (or the system's) reply to this customer message, once it is stored."""
    return (
        Message.objects.filter(workspace_id=message.workspace_id, reply_to=message)
        .select_related("author")
        .first()
    )


def message_context(*, conversation: Conversation, message: Message) -> MessageContext:
    """What the flow knows when it replies to `message`: the conversation before it, and the
    customer when the company vouched for them."""
    earlier = (
        Message.objects.filter(
            workspace_id=conversation.workspace_id,
            conversation=conversation,
            id__lt=message.pk,
            kind=MessageKind.TEXT,
            sender__in=(Sender.CUSTOMER, Sender.AI),
        )
        .order_by("id")
        .values("sender", "text", "citations")
    )
    history: list[str] = []
    ai_replies: list[str] = []
    cited: dict[str, dict[str, str]] = {}
    for row in earlier:
        if row["sender"] == Sender.CUSTOMER:
            history.append(row["text"])
            continue
        ai_replies.append(row["text"])
        for citation in row["citations"]:
            cited.setdefault(citation.get("external_id") or citation.get("url", ""), citation)
    return MessageContext(
        history=history[-HISTORY_MAX_MESSAGES:],
        previous_language=conversation.language or None,
        ai_turns=conversation.ai_turns,
        customer=customer_context(conversation.customer),
        ai_replies=ai_replies,
        cited=list(cited.values()),
    )


def customer_context(customer: Customer) -> dict[str, Any]:
    """An unverified customer's claims (name, plan, ...) never reach the flow: anyone can type
    "I'm on the enterprise plan" into a chat."""
    if not customer.verified:
        return {}
    return {
        "name": customer.name,
        "email": customer.email,
        "plan": customer.plan,
        "attributes": customer.attributes,
    }


def workspace_of_slug(*, slug: str) -> Workspace | None:
    """The workspace whose public chat lives at /chat/<slug>/ (anyone may open it)."""
    return Workspace.objects.filter(slug=slug).first()


def inbox_conversations(
    *,
    workspace: Workspace,
    status: str | None = None,
    queue_id: int | None = None,
    priority: str | None = None,
    assignee: User | None = None,
    unassigned: bool = False,
    language: str | None = None,
) -> QuerySet[Conversation]:
    """The agents' inbox: the conversations that need a human (waiting or assigned, or with an
    AI action request waiting for an agent's decision while the AI still talks) unless `status`
    picks one, in `conversation_list`'s order, each annotated with `wants` (the latest handoff
    brief's), `last_customer_text` (the customer's latest message) and `actions_waiting`."""
    conversations = conversation_list(
        workspace=workspace,
        status=status,
        queue_id=queue_id,
        priority=priority,
        assignee=assignee,
        unassigned=unassigned,
        language=language,
    )
    if not status:
        conversations = conversations.filter(
            Q(status__in=HUMAN_OWNED_STATUSES) | Q(actions_waiting=True)
        )
    latest_handoff = Handoff.objects.filter(conversation=OuterRef("pk")).order_by("-id")
    latest_customer_message = Message.objects.filter(
        conversation=OuterRef("pk"), sender=Sender.CUSTOMER, kind=MessageKind.TEXT
    ).order_by("-id")
    return conversations.annotate(
        wants=Subquery(latest_handoff.values(brief_wants=KT("brief__wants"))[:1]),
        last_customer_text=Subquery(latest_customer_message.values("text")[:1]),
    )


# --- AI action requests ----------------------------------------------------------------------


def action_requests_of_workspace(*, workspace: Workspace) -> QuerySet[ActionRequest]:
    """Newest first, each with its action, requester and audit trail (oldest step first)."""
    return (
        ActionRequest.objects.filter(workspace=workspace)
        .select_related("action", "requested_by", "conversation", "workspace")
        .prefetch_related(
            Prefetch(
                "events",
                queryset=ActionRequestEvent.objects.select_related("actor").order_by("id"),
            )
        )
        .order_by("-id")
    )


def action_requests_of_conversation(*, conversation: Conversation) -> QuerySet[ActionRequest]:
    return action_requests_of_workspace(workspace=conversation.workspace).filter(
        conversation=conversation
    )


def action_request_of_workspace(*, workspace: Workspace, request_id: int) -> ActionRequest | None:
    return action_requests_of_workspace(workspace=workspace).filter(pk=request_id).first()
