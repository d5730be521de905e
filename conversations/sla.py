"""The queues' SLA timers, enforced by a periodic task (Celery beat, every minute).

- A conversation waiting unclaimed longer than its queue's limit (`Queue.sla_wait_minutes`) goes
  up one priority step (normal -> high -> urgent), once per limit it keeps waiting, and the queue's
  agents are told through the inbox.
- A claimed conversation whose agent has been silent longer than the limit while the customer
  waits for them goes back to the queue, unassigned, so another agent can pick it up.

Each step is written as an internal note of the system (agents see why the priority moved; the
customer never does), and those notes are also how the next sweep knows when the last step was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from conversations.models import (
    Conversation,
    ConversationStatus,
    Handoff,
    Message,
    MessageKind,
    Priority,
    Sender,
)
from conversations.realtime import inbox_broadcast, message_broadcast, status_broadcast

NEXT_PRIORITY = {Priority.NORMAL: Priority.HIGH, Priority.HIGH: Priority.URGENT}
SLA_NOTE_PREFIX = "SLA: "


@dataclass
class SlaSweep:
    escalated: list[int] = field(default_factory=list)  # conversation ids
    returned: list[int] = field(default_factory=list)


def conversations_sla_enforce(*, now: datetime | None = None) -> SlaSweep:
    """One sweep over every workspace's open, human-owned conversations."""
    now = now or timezone.now()
    sweep = SlaSweep()
    candidates = Conversation.objects.filter(
        status__in=(ConversationStatus.WAITING, ConversationStatus.ASSIGNED),
        queue__isnull=False,
        queue__sla_wait_minutes__gt=0,
    ).values_list("pk", flat=True)
    for conversation_id in candidates:
        outcome = _conversation_sla_enforce(conversation_id, now)
        if outcome == "escalated":
            sweep.escalated.append(conversation_id)
        elif outcome == "returned":
            sweep.returned.append(conversation_id)
    return sweep


@transaction.atomic
def _conversation_sla_enforce(conversation_id: int, now: datetime) -> str:
    # Locked, and read again: an agent may have claimed or answered since the list was made.
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("queue")
        .get(pk=conversation_id)
    )
    if conversation.queue is None:
        return ""
    limit = timedelta(minutes=conversation.queue.sla_wait_minutes)
    if conversation.status == ConversationStatus.WAITING:
        return "escalated" if _escalate_if_overdue(conversation, limit, now) else ""
    if conversation.status == ConversationStatus.ASSIGNED:
        return "returned" if _return_if_agent_silent(conversation, limit, now) else ""
    return ""


def _escalate_if_overdue(conversation: Conversation, limit: timedelta, now: datetime) -> bool:
    waiting_since = conversation.handed_off_at or conversation.created_at
    last_step = _last_sla_note_at(conversation)
    due = max(waiting_since, last_step) if last_step else waiting_since
    if now - due < limit:
        return False
    raised = NEXT_PRIORITY.get(Priority(conversation.priority))
    waited = int((now - waiting_since).total_seconds() // 60)
    if raised is not None:
        conversation.priority = raised
        conversation.save(update_fields=["priority", "updated_at"])
    note = _sla_note(
        conversation,
        f"waiting {waited} min, over the {conversation.queue} limit of "
        f"{int(limit.total_seconds() // 60)} min; priority {conversation.priority}.",
        now,
    )
    message_broadcast(note, to_inbox=True)
    inbox_broadcast(conversation, change="sla_breached")
    return True


def _return_if_agent_silent(conversation: Conversation, limit: timedelta, now: datetime) -> bool:
    agent_active_at = _agent_last_active_at(conversation)
    if agent_active_at is None or now - agent_active_at < limit:
        return False
    customer_waits = conversation.last_customer_message_at is None or (
        conversation.last_customer_message_at > agent_active_at
    )
    answered_since_claim = Message.objects.filter(
        conversation=conversation, sender=Sender.AGENT, kind=MessageKind.TEXT
    ).exists()
    # An agent who answered and is waiting for the customer is not the one holding things up.
    if answered_since_claim and not customer_waits:
        return False
    agent = conversation.assignee
    conversation.status = ConversationStatus.WAITING
    conversation.assignee = None
    conversation.handed_off_at = now
    conversation.save(update_fields=["status", "assignee", "handed_off_at", "updated_at"])
    note = _sla_note(
        conversation,
        f"{agent.name if agent else 'The agent'} was silent for over "
        f"{int(limit.total_seconds() // 60)} min; back to the {conversation.queue} queue.",
        now,
    )
    message_broadcast(note, to_inbox=True)
    status_broadcast(conversation)
    inbox_broadcast(conversation, change="returned")
    return True


def _agent_last_active_at(conversation: Conversation) -> datetime | None:
    """When the assigned agent last did something here: their last message, or their claim."""
    last_message = Message.objects.filter(
        conversation=conversation, sender=Sender.AGENT, author=conversation.assignee
    ).aggregate(at=Max("created_at"))["at"]
    claimed = Handoff.objects.filter(
        conversation=conversation, claimed_by=conversation.assignee
    ).aggregate(at=Max("claimed_at"))["at"]
    times = [moment for moment in (last_message, claimed) if moment is not None]
    return max(times) if times else conversation.updated_at


def _last_sla_note_at(conversation: Conversation) -> datetime | None:
    return (
        Message.objects.filter(
            conversation=conversation,
            sender=Sender.SYSTEM,
            kind=MessageKind.NOTE,
            text__startswith=SLA_NOTE_PREFIX,
            created_at__gte=conversation.handed_off_at or conversation.created_at,
        )
        .aggregate(at=Max("created_at"))
        .get("at")
    )


def _sla_note(conversation: Conversation, text: str, at: datetime) -> Message:
    note = Message.objects.create(
        conversation=conversation,
        workspace_id=conversation.workspace_id,
        sender=Sender.SYSTEM,
        kind=MessageKind.NOTE,
        text=SLA_NOTE_PREFIX + text,
    )
    # Dated at the sweep's clock: the next sweep counts the limit from this step.
    Message.objects.filter(pk=note.pk).update(created_at=at)
    note.created_at = at
    return note
