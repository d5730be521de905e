"""What the inbox pages show, in one shape whether it comes from the database (the page) or from
an `inbox.conversation` event (the live update pushed over the console socket).

The inbox templates render these plain values, never a model or an event directly: that is what
lets `templates/live/inbox.conversation.html` reuse the page's own row and message partials.
Events and briefs are read defensively: a key that is missing shows as blank, not as an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from console.flow_display import REASON_LABELS, language_name, safe_link
from conversations.models import (
    ActionRequest,
    ActionRequestEvent,
    Conversation,
    ConversationStatus,
    Customer,
    Handoff,
    Message,
    MessageKind,
    Priority,
    Sender,
)

ANONYMOUS = "Anonymous"
TREND_LABELS = {"worsening": "getting worse", "improving": "improving", "steady": "steady"}


@dataclass(frozen=True)
class InboxRow:
    """One conversation as the inbox lists it."""

    id: int
    customer_name: str
    wants: str
    language: str
    waiting_since: datetime | None
    queue_name: str
    priority: str
    priority_label: str
    assignee_name: str
    status: str
    status_label: str


@dataclass(frozen=True)
class TranscriptItem:
    """One message of the transcript as an agent sees it (internal notes included)."""

    id: int
    sender: str
    sender_label: str
    kind: str
    text: str
    internal: bool
    created_at: datetime | None
    trace_id: int | None
    citations: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class BriefView:
    """The AI's handoff brief, ready to read."""

    wants: str
    context: str
    reason: str
    reason_label: str
    articles: list[dict[str, str]]
    answered: bool
    sentiment_score: float | None
    sentiment_trend: str
    language: str
    language_name: str
    customer: list[tuple[str, str]]
    suggested_reply: str
    priority_label: str
    queue_name: str
    created_at: datetime


def _person_name(person: Mapping[str, Any] | None) -> str:
    if not person:
        return ""
    return str(person.get("name") or person.get("email") or "")


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return parse_datetime(value) if isinstance(value, str) else None


def _label(choices: type[Priority] | type[ConversationStatus], value: str) -> str:
    return str(dict(choices.choices).get(value, value))


def customer_name(customer: Customer) -> str:
    return customer.name or ANONYMOUS


def inbox_row_of_conversation(conversation: Conversation) -> InboxRow:
    """A row of the page: `conversation` comes from `inbox_conversations` (annotated with
    `wants` and `last_customer_text`) or is any conversation (the conversation page)."""
    wants = getattr(conversation, "wants", None) or getattr(conversation, "last_customer_text", "")
    assignee = conversation.assignee
    return InboxRow(
        id=conversation.pk,
        customer_name=customer_name(conversation.customer),
        wants=wants or "",
        language=conversation.language,
        waiting_since=conversation.handed_off_at or conversation.created_at,
        queue_name=conversation.queue.name if conversation.queue else "",
        priority=conversation.priority,
        priority_label=conversation.get_priority_display(),
        assignee_name=(assignee.name or assignee.email) if assignee else "",
        status=conversation.status,
        status_label=conversation.get_status_display(),
    )


def inbox_row_of_event(event: Mapping[str, Any]) -> InboxRow:
    """A row from an `inbox.conversation` event. Only a handoff carries what the customer
    wants (in its brief); the other changes update the row's state cells, not the whole row."""
    conversation: Mapping[str, Any] = event.get("conversation") or {}
    customer: Mapping[str, Any] = conversation.get("customer") or {}
    brief: Mapping[str, Any] = (event.get("handoff") or {}).get("brief") or {}
    queue: Mapping[str, Any] = conversation.get("queue") or {}
    priority = str(conversation.get("priority") or Priority.NORMAL)
    status = str(conversation.get("status") or "")
    return InboxRow(
        id=int(conversation.get("id") or 0),
        customer_name=str(customer.get("name") or ANONYMOUS),
        wants=str(brief.get("wants") or ""),
        language=str(conversation.get("language") or ""),
        waiting_since=_datetime(
            conversation.get("handed_off_at") or conversation.get("created_at")
        ),
        queue_name=str(queue.get("name") or ""),
        priority=priority,
        priority_label=_label(Priority, priority),
        assignee_name=_person_name(conversation.get("assignee")),
        status=status,
        status_label=_label(ConversationStatus, status),
    )


def _sender_label(sender: str, author_name: str) -> str:
    if sender == Sender.AGENT:
        return author_name or "Agent"
    return str(dict(Sender.choices).get(sender, sender))


def _citations(citations: Any) -> list[dict[str, str]]:
    if not isinstance(citations, list):
        return []
    return [
        {**citation, "link": safe_link(citation.get("url"))}
        for citation in citations
        if isinstance(citation, dict)
    ]


def transcript_item_of_message(message: Message) -> TranscriptItem:
    author = message.author
    return TranscriptItem(
        id=message.pk,
        sender=message.sender,
        sender_label=_sender_label(message.sender, (author.name or author.email) if author else ""),
        kind=message.kind,
        text=message.text,
        internal=message.is_internal,
        created_at=message.created_at,
        trace_id=message.trace_id,
        citations=_citations(message.citations),
    )


def transcript_item_of_event(event: Mapping[str, Any]) -> TranscriptItem | None:
    """The message an `inbox.conversation` event carries (change "message"), if any."""
    message: Mapping[str, Any] = event.get("message") or {}
    if not message.get("id"):
        return None
    sender = str(message.get("sender") or "")
    kind = str(message.get("kind") or MessageKind.TEXT)
    trace_id = message.get("trace_id")
    return TranscriptItem(
        id=int(message["id"]),
        sender=sender,
        sender_label=_sender_label(sender, str(message.get("author_name") or "")),
        kind=kind,
        text=str(message.get("text") or ""),
        internal=bool(message.get("internal")) or kind == MessageKind.NOTE,
        created_at=_datetime(message.get("created_at")),
        trace_id=int(trace_id) if isinstance(trace_id, int) else None,
        citations=_citations(message.get("citations")),
    )


def _customer_lines(customer: Any) -> list[tuple[str, str]]:
    if not isinstance(customer, Mapping):
        return []
    lines = [
        (label, str(customer[key]))
        for key, label in (("name", "Name"), ("email", "Email"), ("plan", "Plan"))
        if customer.get(key)
    ]
    attributes = customer.get("attributes")
    if isinstance(attributes, Mapping):
        lines += [(str(name), str(value)) for name, value in attributes.items()]
    return lines


def brief_view(handoff: Handoff) -> BriefView:
    brief: Mapping[str, Any] = handoff.brief if isinstance(handoff.brief, Mapping) else {}
    tried: Mapping[str, Any] = brief.get("tried") or {}
    sentiment: Mapping[str, Any] = brief.get("sentiment") or {}
    reason = str(brief.get("reason") or handoff.reason)
    language = str(brief.get("language") or "")
    score = sentiment.get("score")
    trend = str(sentiment.get("trend") or "")
    return BriefView(
        wants=str(brief.get("wants") or ""),
        context=str(brief.get("context") or ""),
        reason=reason,
        reason_label=REASON_LABELS.get(reason, reason.replace("_", " ").capitalize()),
        articles=_citations(tried.get("articles")),
        answered=bool(tried.get("answered")),
        sentiment_score=float(score) if isinstance(score, int | float) else None,
        sentiment_trend=TREND_LABELS.get(trend, trend),
        language=language,
        language_name=str(brief.get("language_name") or language_name(language)),
        customer=_customer_lines(brief.get("customer")),
        suggested_reply=str(brief.get("suggested_reply") or ""),
        priority_label=handoff.get_priority_display(),
        queue_name=handoff.queue.name if handoff.queue else "",
        created_at=handoff.created_at,
    )


def customer_details(customer: Customer) -> list[tuple[str, str]]:
    """The customer as stored, for the conversation page's side panel."""
    lines = [
        ("Name", customer_name(customer)),
        ("Identity", "verified by the company" if customer.verified else "not verified"),
    ]
    lines += [
        (label, value)
        for label, value in (
            ("Email", customer.email),
            ("Plan", customer.plan),
            ("Customer id", customer.external_id),
        )
        if value
    ]
    attributes = customer.attributes if isinstance(customer.attributes, Mapping) else {}
    return lines + [(str(name), str(value)) for name, value in attributes.items()]


# --- AI action requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class ActionRequestStep:
    status_label: str
    who: str
    note: str
    created_at: datetime


@dataclass(frozen=True)
class ActionRequestView:
    """One action request on the conversation page, as the viewing member may act on it."""

    id: int
    action_name: str
    risk: str
    status: str
    status_label: str
    parameters: list[tuple[str, str]]
    parameters_json: str
    missing_parameters: list[str]
    is_open: bool
    can_decide: bool  # the viewer may approve or reject it (routing.selectors.may_approve)
    approvers: str  # who may, for "Waiting for approval by ..."
    steps: list[ActionRequestStep]


def action_request_view(
    request: ActionRequest, *, can_decide: bool, approvers: str
) -> ActionRequestView:
    return ActionRequestView(
        id=request.pk,
        action_name=request.action.name,
        risk=request.action.risk,
        status=request.status,
        status_label=request.get_status_display(),
        parameters=[(name, str(value)) for name, value in request.parameters.items()],
        parameters_json=json.dumps(request.parameters, indent=1),
        missing_parameters=list(request.missing_parameters),
        is_open=request.is_open,
        can_decide=can_decide,
        approvers=approvers,
        steps=[_action_request_step(event) for event in request.events.all()],
    )


def _action_request_step(event: ActionRequestEvent) -> ActionRequestStep:
    if event.actor is not None:
        who = event.actor.name or event.actor.email
        who = f"{who} ({event.actor_role})" if event.actor_role else who
    else:
        who = event.get_actor_kind_display()
    return ActionRequestStep(
        status_label=event.get_status_display(),
        who=who,
        note=event.note,
        created_at=event.created_at,
    )
