"""The queues' SLA timers: an unclaimed conversation waiting past its queue's limit goes up in
priority and the queue hears of it; a claimed one whose agent went silent returns to the queue."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation, ConversationStatus, Message, MessageKind
from conversations.selectors import messages_after
from conversations.services import (
    agent_message_post,
    conversation_claim,
    conversation_reply,
    conversation_start,
    customer_message_post,
)
from conversations.sla import conversations_sla_enforce
from conversations.tasks import conversations_sla_enforce_task
from routing.models import Queue

pytestmark = pytest.mark.django_db

LIMIT = timedelta(minutes=10)  # the default queues' sla_wait_minutes


def handed_off(workspace) -> tuple[Conversation, datetime]:
    """A conversation the AI handed off, and when."""
    conversation = conversation_start(workspace=workspace, customer_data={"name": "Ana"})
    message, _ = customer_message_post(
        conversation=conversation,
        text="I want to talk to a human please",
        client_id="c1",
        reply_in_background=False,
    )
    conversation_reply(conversation_id=conversation.pk, message_id=message.pk)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    assert conversation.handed_off_at is not None
    return conversation, conversation.handed_off_at


def test_waiting_past_the_limit_raises_the_priority_once_per_limit(workspace):
    conversation, started = handed_off(workspace)

    assert conversations_sla_enforce(now=started + LIMIT - timedelta(seconds=1)).escalated == []
    first = conversations_sla_enforce(now=started + LIMIT + timedelta(minutes=1))
    again_at_once = conversations_sla_enforce(now=started + LIMIT + timedelta(minutes=2))
    conversation.refresh_from_db()
    assert first.escalated == [conversation.pk]
    assert again_at_once.escalated == []
    assert conversation.priority == "high"

    conversations_sla_enforce(now=started + 2 * LIMIT + timedelta(minutes=2))
    conversation.refresh_from_db()
    assert conversation.priority == "urgent"


def test_the_sla_step_is_an_internal_note_the_customer_never_sees(workspace):
    conversation, started = handed_off(workspace)

    conversations_sla_enforce(now=started + LIMIT + timedelta(minutes=1))

    note = Message.objects.get(conversation=conversation, kind=MessageKind.NOTE)
    assert note.text.startswith("SLA: waiting 11 min, over the Tier 1 limit of 10 min")
    customer_view = messages_after(conversation=conversation, customer_view=True)
    assert note not in list(customer_view)


def test_a_claimed_conversation_whose_agent_stays_silent_returns_to_the_queue(workspace, agent):
    conversation, _ = handed_off(workspace)
    conversation_claim(conversation=conversation, agent=agent)
    claimed_at = timezone.now()

    assert conversations_sla_enforce(now=claimed_at + LIMIT - timedelta(minutes=1)).returned == []
    sweep = conversations_sla_enforce(now=claimed_at + LIMIT + timedelta(minutes=1))

    conversation.refresh_from_db()
    assert sweep.returned == [conversation.pk]
    assert (conversation.status, conversation.assignee) == (ConversationStatus.WAITING, None)


def test_an_agent_who_answered_and_waits_for_the_customer_keeps_the_conversation(workspace, agent):
    conversation, _ = handed_off(workspace)
    agent_message_post(conversation=conversation, agent=agent, text="Hi Ana, I'm on it.")

    sweep = conversations_sla_enforce(now=timezone.now() + 3 * LIMIT)

    conversation.refresh_from_db()
    assert sweep.returned == []
    assert conversation.status == ConversationStatus.ASSIGNED


def test_a_queue_without_a_limit_is_left_alone(workspace):
    conversation, _ = handed_off(workspace)
    Queue.objects.filter(conversations=conversation).update(sla_wait_minutes=0)

    assert conversations_sla_enforce(now=timezone.now() + 10 * LIMIT).escalated == []


def test_the_beat_task_runs_the_sweep(workspace):
    conversation, _ = handed_off(workspace)
    Conversation.objects.filter(pk=conversation.pk).update(
        handed_off_at=timezone.now() - LIMIT - timedelta(minutes=1)
    )

    conversations_sla_enforce_task.delay()

    conversation.refresh_from_db()
    assert conversation.priority == "high"
