"""The console's Inbox: the live list of conversations that need a human, and one conversation
with its brief, transcript and the agent's actions."""

from __future__ import annotations

import html

import pytest

from console.consumers import render_live_fragment
from conversations.models import Conversation, ConversationStatus, Message, MessageKind, Sender
from conversations.realtime import INBOX_EVENT
from conversations.selectors import handoff_latest, messages_after
from conversations.serializers import conversation_json, handoff_json, message_json
from conversations.services import (
    agent_message_post,
    conversation_claim,
    conversation_reply,
    conversation_start,
    customer_message_post,
)
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

HUMAN_REQUEST = "My invoice shows the wrong VAT id. I want to talk to a human"


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def hand_off(workspace, text: str = HUMAN_REQUEST, **customer) -> Conversation:
    """A customer (vouched for by the company when they have an id) asks for a person and the
    published default flow hands off, as the reply job does after the message commits."""
    conversation = conversation_start(
        workspace=workspace, customer_data=customer, verified="external_id" in customer
    )
    message, _ = customer_message_post(
        conversation=conversation, text=text, client_id="m-1", reply_in_background=False
    )
    conversation_reply(conversation_id=conversation.pk, message_id=message.pk)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    return conversation


@pytest.fixture
def handed_off(workspace) -> Conversation:
    return hand_off(
        workspace,
        external_id="u-42",
        name="Ana Souza",
        email="ana@example.com",
        plan="Pro",
        attributes={"seats": 12},
    )


def url(conversation: Conversation, action: str = "") -> str:
    return f"/w/acme/inbox/{conversation.pk}/{action}"


# --- the list --------------------------------------------------------------------------------


def test_inbox_is_a_built_section_listing_conversations_that_need_a_human(
    admin, workspace, handed_off
):
    still_with_ai = conversation_start(workspace=workspace, customer_data={})

    page = text_of(client_for(admin).get("/w/acme/inbox/"))

    assert "<h1>Inbox</h1>" in page
    assert 'aria-current="page">Inbox</a>' in page
    row = page[page.index(f'id="conversation-{handed_off.pk}"') :]
    row = row[: row.index("</tr>")]
    assert f'<a href="{handed_off.pk}/">Ana Souza</a>' in row
    assert "My invoice shows the wrong VAT id." in row  # what the brief says the customer wants
    assert "Waiting for an agent" in row and "Unassigned" in row and "Normal" in row
    assert f'id="conversation-{still_with_ai.pk}"' not in page
    # The list is live: it listens on the console's socket and announces what changes.
    assert 'ws-connect="/ws/w/acme/live/?list=inbox&shown=' in page
    assert 'id="inbox-list" class="results" aria-live="polite"' in page


def test_a_conversation_without_a_brief_shows_its_last_customer_message_and_anonymous(
    agent, workspace
):
    conversation = conversation_start(workspace=workspace, customer_data={})
    customer_message_post(conversation=conversation, text="Where is my order?", client_id="m-1")
    agent_message_post(conversation=conversation, agent=agent, text="Let me check.")

    page = text_of(client_for(agent).get("/w/acme/inbox/"))

    row = page[page.index(f'id="conversation-{conversation.pk}"') :]
    assert f'<a href="{conversation.pk}/">Anonymous</a>' in row[: row.index("</tr>")]
    assert "Where is my order?" in row[: row.index("</tr>")]


def test_filters_narrow_the_list_and_htmx_gets_only_the_list(agent, admin, workspace):
    mine = hand_off(workspace, name="Mine Customer")
    conversation_claim(conversation=mine, agent=agent)
    theirs = hand_off(workspace, name="Their Customer")
    conversation_claim(conversation=theirs, agent=admin)
    waiting = hand_off(workspace, "Quero falar com um humano, por favor", name="Waiting Customer")
    client = client_for(agent)

    def names(query: str) -> set[str]:
        page = text_of(client.get(f"/w/acme/inbox/?{query}"))
        return {
            name
            for name in ("Mine Customer", "Their Customer", "Waiting Customer")
            if f">{name}</a>" in page
        }

    assert names("") == {"Mine Customer", "Their Customer", "Waiting Customer"}
    assert names("assignee=mine") == {"Mine Customer"}
    assert names("assignee=unassigned") == {"Waiting Customer"}
    assert names("status=waiting") == {"Waiting Customer"}
    assert names(f"language={waiting.language}") >= {"Waiting Customer"}
    assert names("language=de") == set()
    assert names("priority=urgent") == set()
    handoff = handoff_latest(conversation=waiting)
    assert handoff is not None and handoff.queue is not None
    queue = handoff.queue
    assert names(f"queue={queue.pk}&assignee=unassigned") == {"Waiting Customer"}

    region = client.get("/w/acme/inbox/?assignee=mine", HTTP_HX_REQUEST="true")
    assert "<h1>" not in text_of(region) and ">Mine Customer</a>" in text_of(region)
    assert "HX-Request" in region["Vary"]


def test_resolved_conversations_show_only_when_asked_for(agent, workspace, handed_off):
    client = client_for(agent)
    client.post(url(handed_off, "resolve/"))

    default = text_of(client.get("/w/acme/inbox/"))
    resolved = text_of(client.get("/w/acme/inbox/?status=resolved"))

    assert ">Ana Souza</a>" not in default
    assert "No conversation needs a human right now." in default
    assert ">Ana Souza</a>" in resolved


def test_an_unknown_filter_value_is_shown_as_an_error_and_ignored(agent, handed_off):
    page = text_of(client_for(agent).get("/w/acme/inbox/?priority=whenever&queue=999999"))

    assert "Select a valid choice." in page
    assert ">Ana Souza</a>" in page


# --- the live row ----------------------------------------------------------------------------


def test_a_handoff_event_renders_the_page_row_to_insert_and_a_claim_replaces_its_state(
    admin, agent, handed_off
):
    handoff = handoff_latest(conversation=handed_off)
    assert handoff is not None
    event = {
        "type": INBOX_EVENT,
        "change": "handoff",
        "conversation": conversation_json(handed_off),
        "handoff": handoff_json(handoff),
    }

    fragment = html.unescape(render_live_fragment(event) or "")

    # Any old copy of the row goes, and the row (the page's own template) joins its priority.
    assert f'<tbody hx-swap-oob="delete:#conversation-{handed_off.pk}"></tbody>' in fragment
    assert '<tbody hx-swap-oob="beforeend:#inbox-normal">' in fragment
    page = text_of(client_for(admin).get("/w/acme/inbox/"))
    page_row = page[page.index(f'<tr id="conversation-{handed_off.pk}"') :]
    page_row = page_row[: page_row.index("</tr>")]
    pushed_row = fragment[fragment.index(f'<tr id="conversation-{handed_off.pk}" class') :]
    assert pushed_row[: pushed_row.index("</tr>")] == page_row

    claimed = conversation_claim(conversation=handed_off, agent=agent)
    fragment = html.unescape(
        render_live_fragment(
            {"type": INBOX_EVENT, "change": "claimed", "conversation": conversation_json(claimed)}
        )
        or ""
    )
    assert f'id="conversation-{handed_off.pk}-assignee" data-label="Assignee"' in fragment
    assert 'hx-swap-oob="true">Andy Agent</td>' in fragment
    assert "With an agent" in fragment
    assert f'<tr id="conversation-{handed_off.pk}"' not in fragment  # the row stays in place


def test_a_message_event_appends_the_message_to_the_conversation_transcript(agent, handed_off):
    note = agent_message_post(
        conversation=handed_off, agent=agent, text="Check the VAT id", internal=True
    )

    fragment = html.unescape(
        render_live_fragment(
            {
                "type": INBOX_EVENT,
                "change": "message",
                "conversation": conversation_json(handed_off),
                "message": message_json(note),
            }
        )
        or ""
    )

    assert f'<ol hx-swap-oob="beforeend:#transcript-{handed_off.pk}">' in fragment
    assert f'<li id="message-{note.pk}" class="message message--agent message--note">' in fragment
    assert "Internal note — not shown to the customer" in fragment


# --- the conversation ------------------------------------------------------------------------


def test_the_conversation_shows_the_brief_on_top_then_the_transcript_and_the_customer(
    agent, handed_off
):
    page = text_of(client_for(agent).get(url(handed_off)))

    brief = page.index('<h2 id="brief-heading">Handoff brief</h2>')
    assert brief < page.index('<h2 id="transcript-heading">Transcript</h2>')
    assert "The customer asked for a human" in page
    assert 'data-testid="brief-wants">My invoice shows the wrong VAT id.</dd>' in page
    assert "Plan: Pro" in page[brief:]  # the customer, as the brief saw them
    handoff = handoff_latest(conversation=handed_off)
    assert handoff is not None
    suggested = handoff.brief["suggested_reply"]
    assert suggested.startswith("Hi Ana,")
    assert (
        f'<div class="plain-text panel reply" data-testid="suggested-reply">{suggested}</div>'
        in page
    )
    assert (
        f'data-compose="{suggested}" aria-controls="id_text">Use suggested reply</button>' in page
    )
    # The transcript: the customer's message and the AI's reply, which can say why.
    assert '<li id="message-' in page and "message--customer" in page and "message--ai" in page
    assert "<summary>Why?</summary>" in page
    # The customer, and what an agent can do.
    assert '<dt>Plan</dt><dd class="break">Pro</dd>' in page
    assert '<dt>seats</dt><dd class="break">12</dd>' in page
    assert ">Claim</button>" in page and ">Resolve</button>" in page
    assert "Internal note — not shown to the customer</label>" in page
    assert ">Greeting</button>" in page  # a canned reply


def test_why_loads_the_decision_trace_of_an_ai_message(agent, handed_off):
    ai_message = Message.objects.get(conversation=handed_off, sender=Sender.AI)
    assert ai_message.trace_id is not None

    fragment = text_of(
        client_for(agent).get(
            url(handed_off, f"traces/{ai_message.trace_id}/"), HTTP_HX_REQUEST="true"
        )
    )

    assert "<h1>" not in fragment
    assert "Handed off" in fragment and "The customer asked for a human" in fragment
    assert "Stages, in the order they ran" in fragment and "Facts the rules saw" in fragment
    assert 'data-testid="fired-rule"' in fragment


def test_claim_shows_the_agent_as_assignee(agent, handed_off):
    client = client_for(agent)

    response = client.post(url(handed_off, "claim/"))

    assert response.status_code == 302 and response["Location"] == url(handed_off)
    page = text_of(client.get(url(handed_off)))
    assert "With an agent</span>\n  · Assigned to Andy Agent" in page
    assert ">Claim</button>" not in page
    assert "Andy Agent joined the conversation." in page


def test_claiming_a_conversation_someone_else_owns_is_refused_with_the_reason(
    admin, agent, handed_off
):
    conversation_claim(conversation=handed_off, agent=admin)

    response = client_for(agent).post(url(handed_off, "claim/"))

    assert response.status_code == 400
    assert "Alice Admin already owns this conversation." in text_of(response)


def test_a_reply_appears_in_the_transcript_as_the_agents_message(agent, handed_off):
    client = client_for(agent)

    response = client.post(url(handed_off, "reply/"), {"text": "Hi Ana, fixing your VAT id now."})

    assert response.status_code == 302
    page = text_of(client.get(url(handed_off)))
    transcript = page[page.index('<ol id="transcript-') :]
    assert "<strong>Andy Agent</strong>" in transcript
    assert "Hi Ana, fixing your VAT id now." in transcript
    reply = messages_after(conversation=handed_off).last()
    assert reply is not None and (reply.sender, reply.kind) == (Sender.AGENT, MessageKind.TEXT)


def test_an_internal_note_is_marked_and_never_in_the_customers_view(agent, handed_off):
    client = client_for(agent)

    client.post(url(handed_off, "reply/"), {"text": "VAT ids live in billing.", "internal": "on"})

    page = text_of(client.get(url(handed_off)))
    note_item = page[page.index("message--note") :]
    assert "Internal note — not shown to the customer" in note_item[: note_item.index("</li>")]
    assert "VAT ids live in billing." in note_item[: note_item.index("</li>")]
    customer_view = messages_after(conversation=handed_off, customer_view=True)
    assert "VAT ids live in billing." not in [message.text for message in customer_view]
    # A note does not take the conversation over.
    handed_off.refresh_from_db()
    assert handed_off.status == ConversationStatus.WAITING


def test_an_empty_reply_shows_the_error_on_the_form(agent, handed_off):
    response = client_for(agent).post(url(handed_off, "reply/"), {"text": "   "})

    assert response.status_code == 400
    assert "This field is required." in text_of(response)
    assert messages_after(conversation=handed_off).filter(sender=Sender.AGENT).count() == 0


def test_resolve_marks_the_conversation_resolved(admin, handed_off):
    client = client_for(admin)

    response = client.post(url(handed_off, "resolve/"))

    assert response.status_code == 302
    handed_off.refresh_from_db()
    assert handed_off.status == ConversationStatus.RESOLVED
    page = text_of(client.get(url(handed_off)))
    assert '<span class="status status--resolved">Resolved</span>' in page
    assert "This conversation was resolved." in page
    assert ">Resolve</button>" not in page and ">Claim</button>" not in page


def test_hand_back_returns_the_conversation_to_the_ai(agent, handed_off):
    client = client_for(agent)
    client.post(url(handed_off, "claim/"))
    before = text_of(client.get(url(handed_off)))

    response = client.post(url(handed_off, "hand-back/"))

    assert ">Hand back to the AI</button>" in before
    assert response.status_code == 302
    handed_off.refresh_from_db()
    assert (handed_off.status, handed_off.assignee) == (ConversationStatus.AI, None)
    page = text_of(client.get(url(handed_off)))
    assert "You're back with our assistant." in page
    assert ">Hand back to the AI</button>" not in page


def test_transfer_puts_the_conversation_on_the_chosen_queue_unassigned(agent, handed_off):
    client = client_for(agent)
    client.post(url(handed_off, "claim/"))
    target = handed_off.workspace.queues.exclude(pk=handed_off.queue_id).first()
    page = text_of(client.get(url(handed_off)))

    refused = client.post(url(handed_off, "transfer/"), {"queue": "nope"})
    response = client.post(url(handed_off, "transfer/"), {"queue": target.pk})

    assert f'<option value="{target.pk}">{target.name}</option>' in page
    assert refused.status_code == 400 and "Choose a queue to transfer to." in text_of(refused)
    assert response.status_code == 302
    handed_off.refresh_from_db()
    assert (handed_off.status, handed_off.queue, handed_off.assignee) == ("waiting", target, None)


# --- who may do what -------------------------------------------------------------------------


def test_a_viewer_reads_the_inbox_and_conversation_but_has_no_composer_and_cannot_act(
    viewer, handed_off
):
    client = client_for(viewer)

    inbox = text_of(client.get("/w/acme/inbox/"))
    page = text_of(client.get(url(handed_off)))

    assert ">Ana Souza</a>" in inbox
    assert "Handoff brief" in page and "My invoice shows the wrong VAT id." in page
    assert "<textarea" not in page and ">Claim</button>" not in page
    assert "Use suggested reply" not in page
    for action in ("claim/", "reply/", "resolve/"):
        response = client.post(url(handed_off, action), {"text": "sneaky"})
        assert response.status_code == 403
    handed_off.refresh_from_db()
    assert handed_off.status == ConversationStatus.WAITING
    assert not messages_after(conversation=handed_off).filter(text="sneaky").exists()


@pytest.mark.parametrize("path", ["", "claim/", "reply/", "resolve/"])
def test_an_outsider_gets_404_for_the_inbox_and_its_conversations(outsider, handed_off, path):
    client = client_for(outsider)

    if path:
        response = client.post(url(handed_off, path), {"text": "hi"})
    else:
        response = client.get(url(handed_off))

    assert response.status_code == 404
    assert client.get("/w/acme/inbox/").status_code == 404


def test_a_conversation_of_another_workspace_is_404_from_this_one(admin, other_workspace):
    elsewhere = hand_off(other_workspace, name="Globex Customer")

    response = client_for(admin).get(f"/w/acme/inbox/{elsewhere.pk}/")

    assert response.status_code == 404


def test_an_agent_assigns_the_conversation_to_a_named_colleague_from_its_page(
    agent, admin, viewer, handed_off
):
    client = client_for(agent)
    page = text_of(client.get(url(handed_off)))

    refused = client.post(url(handed_off, "assign/"), {"assignee": viewer.pk})
    response = client.post(url(handed_off, "assign/"), {"assignee": admin.pk})

    assert f'<option value="{admin.pk}">Alice Admin</option>' in page
    assert f'<option value="{viewer.pk}">' not in page  # viewers cannot take conversations
    assert refused.status_code == 400 and "Choose an agent to assign." in text_of(refused)
    assert response.status_code == 302
    handed_off.refresh_from_db()
    assert (handed_off.status, handed_off.assignee) == ("assigned", admin)


def test_a_resolved_conversation_shows_reopen_and_reopening_gives_it_to_the_agent(
    agent, handed_off
):
    client = client_for(agent)
    client.post(url(handed_off, "resolve/"))
    page = text_of(client.get(url(handed_off)))

    response = client.post(url(handed_off, "reopen/"))
    again = client.post(url(handed_off, "reopen/"))

    assert ">Reopen</button>" in page and ">Assign</button>" not in page
    assert response.status_code == 302
    handed_off.refresh_from_db()
    assert (handed_off.status, handed_off.assignee) == ("assigned", agent)
    assert again.status_code == 400
    assert "Only a resolved conversation can be reopened." in text_of(again)
