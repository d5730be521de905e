"""The conversation services: idempotent messages and replies, who speaks when, and the
customer's details."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from conversations.models import Customer, Message
from conversations.selectors import message_context, messages_after
from conversations.services import (
    HAND_BACK_TEXT,
    TRANSFER_TEXT,
    ConversationStateError,
    agent_message_post,
    conversation_assign,
    conversation_claim,
    conversation_hand_back,
    conversation_rate,
    conversation_reopen,
    conversation_reply,
    conversation_resolve,
    conversation_start,
    conversation_transfer,
    customer_message_post,
)
from routing.models import DecisionTrace
from tests.conversations.conftest import ROUTINE_QUESTION

pytestmark = pytest.mark.django_db


def ask(conversation, text: str, client_id: str):
    """A customer message and the AI's reply, run as the reply job would."""
    message, _ = customer_message_post(
        conversation=conversation, text=text, client_id=client_id, reply_in_background=False
    )
    return message, conversation_reply(conversation_id=conversation.pk, message_id=message.pk)


def test_a_resent_client_id_returns_the_stored_message_and_schedules_nothing(
    workspace, after_commit
):
    conversation = conversation_start(workspace=workspace, customer_data={})

    with after_commit() as first_callbacks:
        first, created = customer_message_post(
            conversation=conversation, text="  Hello there  ", client_id="m-1"
        )
    with after_commit() as resent_callbacks:
        again, created_again = customer_message_post(
            conversation=conversation, text="Something else", client_id="m-1"
        )

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk and again.text == "Hello there"
    assert len(first_callbacks) >= 2  # the broadcast and the reply job
    assert resent_callbacks == []
    # The same client_id in another conversation is another message.
    other = conversation_start(workspace=workspace, customer_data={})
    _, created_elsewhere = customer_message_post(conversation=other, text="Hi", client_id="m-1")
    assert created_elsewhere


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_sends_of_one_client_id_store_one_message(workspace):
    """A flaky network makes a client resend while the first send is still in flight."""
    conversation = conversation_start(workspace=workspace, customer_data={})
    both_ready = threading.Barrier(2)

    def send(attempt: int) -> bool:
        both_ready.wait()
        try:
            _, created = customer_message_post(
                conversation=conversation, text="Hello", client_id="m-1", reply_in_background=False
            )
            return created
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(max_workers=2) as pool:
        created = sorted(pool.map(send, range(2)))

    assert created == [False, True]
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_the_reply_job_runs_once_per_message(workspace, synced_source, confident_flow):
    conversation = conversation_start(workspace=workspace, customer_data={})
    message, first = ask(conversation, ROUTINE_QUESTION, "m-1")

    again = conversation_reply(conversation_id=conversation.pk, message_id=message.pk)

    assert first is not None and again is not None
    assert again.message.pk == first.message.pk
    assert Message.objects.filter(sender="ai").count() == 1
    assert DecisionTrace.objects.filter(source="conversation").count() == 1
    conversation.refresh_from_db()
    assert conversation.ai_turns == 1


def test_a_reply_job_that_runs_after_an_agent_claimed_stays_silent(
    workspace, agent, synced_source, confident_flow
):
    conversation = conversation_start(workspace=workspace, customer_data={})
    # The job was scheduled, but an agent claims the conversation before it runs.
    message, _ = customer_message_post(
        conversation=conversation, text=ROUTINE_QUESTION, client_id="m-1"
    )
    conversation_claim(conversation=conversation, agent=agent)

    result = conversation_reply(conversation_id=conversation.pk, message_id=message.pk)

    assert result is None
    assert not Message.objects.filter(sender="ai").exists()
    assert not DecisionTrace.objects.exists()


def test_without_a_published_flow_the_conversation_goes_to_the_lowest_tier(workspace):
    flow = workspace.flows.get()
    flow.published_version = None
    flow.save(update_fields=["published_version"])
    conversation = conversation_start(workspace=workspace, customer_data={})

    _, result = ask(conversation, "Is anyone there?", "m-1")

    assert result is not None and result.handoff is not None
    assert result.message.sender == "system"
    assert result.message.text.startswith("I'm passing you to a member of our team")
    assert result.handoff.reason == "no_published_flow"
    assert result.handoff.queue is not None and result.handoff.queue.name == "Tier 1"
    conversation.refresh_from_db()
    assert conversation.status == "waiting"


def test_the_flow_hears_the_conversation_so_far_and_only_a_verified_customer(
    workspace, synced_source, confident_flow
):
    verified = conversation_start(
        workspace=workspace,
        customer_data={"name": "Dana", "plan": "enterprise", "attributes": {"seats": 3}},
        verified=True,
    )
    ask(verified, ROUTINE_QUESTION, "m-1")
    latest, _ = customer_message_post(
        conversation=verified, text="And the invoice?", client_id="m-2", reply_in_background=False
    )
    anonymous = conversation_start(
        workspace=workspace, customer_data={"plan": "enterprise"}, verified=False
    )
    anonymous_message, _ = customer_message_post(
        conversation=anonymous, text="Hi", client_id="m-1", reply_in_background=False
    )

    verified.refresh_from_db()
    context = message_context(conversation=verified, message=latest)
    assert context.history == [ROUTINE_QUESTION]
    assert len(context.ai_replies) == 1 and "30 minutes" in context.ai_replies[0]
    assert context.cited[0]["external_id"] == "en/reset-password.md"
    assert context.previous_language == "en" and context.ai_turns == 1
    assert context.customer == {
        "name": "Dana",
        "email": "",
        "plan": "enterprise",
        "attributes": {"seats": 3},
    }
    assert message_context(conversation=anonymous, message=anonymous_message).customer == {}


def test_an_unverified_external_id_never_reaches_an_existing_customer(workspace):
    known = conversation_start(
        workspace=workspace, customer_data={"external_id": "u-1", "name": "Dana"}, verified=True
    )

    claimed = conversation_start(
        workspace=workspace, customer_data={"external_id": "u-1", "name": "Mallory"}
    )

    assert claimed.customer.pk != known.customer.pk
    assert claimed.customer.external_id == "" and not claimed.customer.verified
    assert Customer.objects.get(pk=known.customer.pk).name == "Dana"


def test_customer_details_are_checked_naming_the_field(workspace):
    with pytest.raises(ValidationError) as error:
        conversation_start(
            workspace=workspace, customer_data={"attributes": {"seats": [1, 2]}}, verified=True
        )

    assert "attributes" in error.value.message_dict
    assert "'seats'" in error.value.message_dict["attributes"][0]
    assert not Customer.objects.exists()


def test_only_agents_and_admins_act_on_conversations(workspace, viewer, outsider):
    conversation = conversation_start(workspace=workspace, customer_data={})

    for user in (viewer, outsider):
        with pytest.raises(PermissionDenied):
            conversation_claim(conversation=conversation, agent=user)
        with pytest.raises(PermissionDenied):
            agent_message_post(conversation=conversation, agent=user, text="Hi")
        with pytest.raises(PermissionDenied):
            conversation_resolve(conversation=conversation, by=user)
    conversation.refresh_from_db()
    assert conversation.status == "ai" and not Message.objects.exists()


def test_an_agent_reply_takes_the_conversation_from_the_ai_but_a_note_does_not(workspace, agent):
    conversation = conversation_start(workspace=workspace, customer_data={})

    agent_message_post(conversation=conversation, agent=agent, text="FYI", internal=True)
    conversation.refresh_from_db()
    status_after_note = conversation.status
    agent_message_post(conversation=conversation, agent=agent, text="Hi, I'm Andy.")
    conversation.refresh_from_db()

    assert status_after_note == "ai"
    assert conversation.status == "assigned" and conversation.assignee == agent
    customer_view = [m.text for m in messages_after(conversation=conversation, customer_view=True)]
    assert customer_view == ["Andy Agent joined the conversation.", "Hi, I'm Andy."]


def test_a_message_to_a_resolved_conversation_reopens_it_to_the_ai_afresh(
    workspace, agent, synced_source, confident_flow
):
    conversation = conversation_start(workspace=workspace, customer_data={})
    ask(conversation, "I want to talk to a human", "m-1")
    conversation_claim(conversation=conversation, agent=agent)
    conversation_resolve(conversation=conversation, by=agent)

    _, result = ask(conversation, ROUTINE_QUESTION, "m-2")

    assert result is not None and result.handoff is None
    conversation.refresh_from_db()
    assert conversation.status == "ai" and conversation.assignee is None
    assert conversation.queue is None and conversation.handed_off_at is None
    assert conversation.ai_turns == 1  # counted afresh


# --- CSAT, hand back, transfer -------------------------------------------------------------------


def test_a_resolved_conversation_takes_one_rating_which_a_new_one_replaces(workspace, agent):
    conversation = conversation_start(workspace=workspace, customer_data={})
    conversation_resolve(conversation=conversation, by=agent)

    conversation_rate(conversation=conversation, rating=2, comment="  Slow  ")
    conversation_rate(conversation=conversation, rating=5, comment=None)

    conversation.refresh_from_db()
    assert (conversation.csat_rating, conversation.csat_comment) == (5, "")


def test_a_rating_is_refused_when_out_of_range_too_long_or_not_resolved(workspace, agent):
    conversation = conversation_start(workspace=workspace, customer_data={})

    with pytest.raises(ConversationStateError):
        conversation_rate(conversation=conversation, rating=4)
    conversation_resolve(conversation=conversation, by=agent)
    for rating, comment in ((0, ""), (6, ""), (True, ""), ("5", ""), (3, "x" * 1001)):
        with pytest.raises(ValidationError):
            conversation_rate(conversation=conversation, rating=rating, comment=comment)

    conversation.refresh_from_db()
    assert conversation.csat_rating is None


def test_handing_back_lets_the_ai_answer_the_next_message(
    workspace, agent, synced_source, confident_flow
):
    conversation = conversation_start(workspace=workspace, customer_data={})
    conversation_claim(conversation=conversation, agent=agent)

    conversation_hand_back(conversation=conversation, agent=agent)
    _, result = ask(conversation, ROUTINE_QUESTION, "m-1")

    conversation.refresh_from_db()
    assert conversation.status == "ai" and conversation.assignee is None
    assert result is not None and result.message.sender == "ai"
    customer_view = [m.text for m in messages_after(conversation=conversation, customer_view=True)]
    assert customer_view[:2] == ["Andy Agent joined the conversation.", HAND_BACK_TEXT]


def test_only_a_conversation_with_a_human_goes_back_to_the_ai(workspace, agent, viewer):
    conversation = conversation_start(workspace=workspace, customer_data={})

    with pytest.raises(ConversationStateError):
        conversation_hand_back(conversation=conversation, agent=agent)
    conversation_claim(conversation=conversation, agent=agent)
    with pytest.raises(PermissionDenied):
        conversation_hand_back(conversation=conversation, agent=viewer)


def test_a_transfer_puts_the_conversation_unassigned_on_the_other_queue(workspace, agent):
    conversation = conversation_start(workspace=workspace, customer_data={})
    conversation_claim(conversation=conversation, agent=agent)
    target = workspace.queues.order_by("-tier").first()

    conversation_transfer(conversation=conversation, agent=agent, queue=target)

    conversation.refresh_from_db()
    assert conversation.status == "waiting" and conversation.assignee is None
    assert conversation.queue == target
    customer_view = [m.text for m in messages_after(conversation=conversation, customer_view=True)]
    assert customer_view[-1] == TRANSFER_TEXT


def test_a_transfer_refuses_another_workspaces_queue(workspace, other_workspace, agent):
    conversation = conversation_start(workspace=workspace, customer_data={})

    with pytest.raises(ValidationError):
        conversation_transfer(
            conversation=conversation, agent=agent, queue=other_workspace.queues.first()
        )
    conversation.refresh_from_db()
    assert conversation.status == "ai" and conversation.queue is None


def test_an_agent_assigns_a_colleagues_conversation_to_another_agent(workspace, agent, admin):
    conversation = conversation_start(workspace=workspace, customer_data={})
    conversation_claim(conversation=conversation, agent=agent)

    conversation_assign(conversation=conversation, by=agent, assignee=admin)

    conversation.refresh_from_db()
    assert conversation.status == "assigned" and conversation.assignee == admin
    customer_view = [m.text for m in messages_after(conversation=conversation, customer_view=True)]
    assert customer_view[-1] == "Alice Admin joined the conversation."


def test_assigning_to_a_viewer_or_an_outsider_is_refused_and_changes_nothing(
    workspace, agent, viewer, outsider
):
    conversation = conversation_start(workspace=workspace, customer_data={})

    for assignee in (viewer, outsider):
        with pytest.raises(ValidationError) as refused:
            conversation_assign(conversation=conversation, by=agent, assignee=assignee)
        assert refused.value.message_dict == {
            "assignee": ["Choose an agent or admin of this workspace."]
        }
    with pytest.raises(PermissionDenied):
        conversation_assign(conversation=conversation, by=viewer, assignee=agent)
    conversation.refresh_from_db()
    assert conversation.status == "ai" and conversation.assignee is None


def test_a_resolved_conversation_is_reopened_to_the_agent_and_the_ai_stays_silent(
    workspace, agent, synced_source, confident_flow
):
    conversation = conversation_start(workspace=workspace, customer_data={})
    conversation_claim(conversation=conversation, agent=agent)
    conversation_resolve(conversation=conversation, by=agent)
    with pytest.raises(ConversationStateError):
        conversation_assign(conversation=conversation, by=agent, assignee=agent)

    conversation_reopen(conversation=conversation, agent=agent)
    _, reply = ask(conversation, ROUTINE_QUESTION, "m-1")

    conversation.refresh_from_db()
    assert conversation.status == "assigned" and conversation.assignee == agent
    assert reply is None  # the agent has it: the AI does not answer
    with pytest.raises(ConversationStateError, match="Only a resolved conversation"):
        conversation_reopen(conversation=conversation, agent=agent)
