"""The conversations REST API, as a company's backend (API key) and console members use it."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from conversations.models import Conversation, Message
from routing.models import DecisionTrace
from tests.conversations.conftest import ROUTINE_QUESTION, key_client, session_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversations/"
HUMAN_PLEASE = "I want to talk to a human"


def start(api, **customer) -> dict:
    response = api.post(URL, {"customer": customer}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def say(api, conversation_id: int, text: str, client_id: str, wait: bool = True):
    return api.post(
        f"{URL}{conversation_id}/messages/",
        {"text": text, "client_id": client_id, "wait": wait},
        format="json",
    )


def transcript(api, conversation_id: int, after: int = 0) -> list[tuple[str, str]]:
    response = api.get(f"{URL}{conversation_id}/messages/", {"after": after})
    assert response.status_code == 200, response.json()
    return [(m["sender"], m["text"]) for m in response.json()]


# --- starting and asking -------------------------------------------------------------------


def test_a_backend_starts_a_conversation_for_its_customer(api):
    created = start(
        api,
        external_id="u-42",
        name="Dana",
        email="dana@example.com",
        plan="enterprise",
        attributes={"seats": 12, "beta": True},
    )
    detail = api.get(f"{URL}{created['id']}/").json()

    assert detail["status"] == "ai" and detail["handoff"] is None
    assert detail["customer"] == {
        "id": detail["customer"]["id"],
        "external_id": "u-42",
        "name": "Dana",
        "email": "dana@example.com",
        "plan": "enterprise",
        "attributes": {"seats": 12, "beta": True},
        "verified": True,
    }
    # The same user id later is the same customer, with the details brought up to date.
    again = start(api, external_id="u-42", plan="business")
    assert again["customer"]["id"] == detail["customer"]["id"]
    assert again["customer"]["plan"] == "business" and again["customer"]["name"] == "Dana"


def test_a_routine_question_gets_a_cited_answer_with_its_trace(api, synced_source, confident_flow):
    conversation = start(api, name="Dana")

    response = say(api, conversation["id"], ROUTINE_QUESTION, "m-1")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["message"]["sender"] == "customer" and body["message"]["text"] == ROUTINE_QUESTION
    reply = body["reply"]
    assert reply["sender"] == "ai" and "30 minutes" in reply["text"]
    assert reply["citations"][0]["external_id"] == "en/reset-password.md"
    assert body["handoff"] is None
    trace = api.get(f"/api/v1/routing/traces/{reply['trace_id']}/").json()
    assert trace["source"] == "conversation" and trace["outcome"] == "answer"
    assert trace["message"] == ROUTINE_QUESTION and trace["flow_version"] == confident_flow.number
    detail = api.get(f"{URL}{conversation['id']}/").json()
    assert detail["status"] == "ai" and detail["ai_turns"] == 1
    assert detail["language"] == "en" and detail["flow_version"] == confident_flow.number


def test_resending_a_client_id_stores_one_message_and_one_reply(api, synced_source, confident_flow):
    conversation_id = start(api)["id"]

    first = say(api, conversation_id, ROUTINE_QUESTION, "m-1")
    second = say(api, conversation_id, ROUTINE_QUESTION, "m-1")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert [sender for sender, _ in transcript(api, conversation_id)] == ["customer", "ai"]
    assert DecisionTrace.objects.filter(source="conversation").count() == 1


def test_a_resent_message_in_the_background_is_answered_once(
    api, synced_source, confident_flow, after_commit
):
    conversation_id = start(api)["id"]

    with after_commit():
        first = say(api, conversation_id, ROUTINE_QUESTION, "m-1", wait=False)
    with after_commit():
        second = say(api, conversation_id, ROUTINE_QUESTION, "m-1", wait=False)

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["reply"] is None  # without "wait", the reply comes later
    messages = transcript(api, conversation_id)
    assert [sender for sender, _ in messages] == ["customer", "ai"]
    assert "30 minutes" in messages[1][1]


def test_asking_for_a_human_hands_off_with_a_brief_on_a_queue(api, synced_source, confident_flow):
    conversation_id = start(api, name="Dana", plan="pro")["id"]

    body = say(api, conversation_id, HUMAN_PLEASE, "m-1").json()

    handoff = body["handoff"]
    assert handoff["reason"] == "human_request"
    assert handoff["queue"]["name"] == "Tier 1" and handoff["priority"] == "normal"
    assert handoff["brief"]["reason"] == "human_request"
    assert handoff["brief"]["customer"]["plan"] == "pro"
    assert handoff["brief"]["suggested_reply"]
    assert body["reply"]["text"].startswith("I'm passing you to a member of our team")
    detail = api.get(f"{URL}{conversation_id}/").json()
    assert detail["status"] == "waiting" and detail["queue"]["name"] == "Tier 1"
    assert detail["handed_off_at"] is not None
    assert detail["handoff"] == handoff
    assert api.get(f"{URL}{conversation_id}/handoff/").json() == handoff


def test_a_handoff_rule_puts_the_conversation_on_its_queue_with_its_priority(
    api, workspace, admin, synced_source, confident_flow
):
    from routing.services import flow_publish, flow_rules_update

    flow = workspace.flows.get()
    rule = {
        "name": "Enterprise goes to tier 2",
        "conditions": [{"fact": "customer_plan", "op": "eq", "value": "enterprise"}],
        "action": {"type": "handoff", "queue": "Tier 2", "priority": "urgent"},
    }
    flow = flow_rules_update(flow=flow, rules=[rule], expected_revision=flow.draft_revision)
    flow_publish(flow=flow, published_by=admin)
    conversation_id = start(api, plan="enterprise")["id"]

    handoff = say(api, conversation_id, ROUTINE_QUESTION, "m-1").json()["handoff"]

    assert handoff["reason"] == "rule"
    assert (handoff["queue"]["name"], handoff["priority"]) == ("Tier 2", "urgent")
    detail = api.get(f"{URL}{conversation_id}/").json()
    assert (detail["queue"]["name"], detail["priority"]) == ("Tier 2", "urgent")


def test_the_handoff_endpoint_is_404_until_the_ai_hands_off(api):
    conversation_id = start(api)["id"]

    assert api.get(f"{URL}{conversation_id}/handoff/").status_code == 404


# --- while a human owns it -----------------------------------------------------------------


def test_the_ai_stays_silent_while_waiting_and_while_an_agent_owns_it(
    api, agent, synced_source, confident_flow, after_commit
):
    conversation_id = start(api)["id"]
    say(api, conversation_id, HUMAN_PLEASE, "m-1")

    while_waiting = say(api, conversation_id, ROUTINE_QUESTION, "m-2").json()
    session_client(agent).post(f"{URL}{conversation_id}/claim/")
    with after_commit():
        say(api, conversation_id, "Hello? Anyone?", "m-3", wait=False)
    while_assigned = say(api, conversation_id, ROUTINE_QUESTION, "m-4").json()

    assert while_waiting["reply"] is None and while_waiting["handoff"] is None
    assert while_assigned["reply"] is None
    assert [sender for sender, _ in transcript(api, conversation_id)] == [
        "customer",
        "ai",  # the handoff message
        "customer",
        "system",  # Andy Agent joined
        "customer",
        "customer",
    ]


def test_an_agent_claims_replies_and_leaves_a_note_the_customer_never_sees(
    api, agent, synced_source, confident_flow
):
    conversation_id = start(api)["id"]
    say(api, conversation_id, HUMAN_PLEASE, "m-1")
    as_agent = session_client(agent)

    claimed = as_agent.post(f"{URL}{conversation_id}/claim/")
    replied = as_agent.post(
        f"{URL}{conversation_id}/reply/", {"text": "Hi, Andy here. How can I help?"}
    )
    noted = as_agent.post(
        f"{URL}{conversation_id}/reply/",
        {"text": "Customer sounds fine, check billing.", "internal": True},
        format="json",
    )

    assert claimed.status_code == 200
    assert claimed.json()["status"] == "assigned"
    assert claimed.json()["assignee"]["email"] == "agent@acme.example"
    assert replied.status_code == 201 and replied.json()["internal"] is False
    assert noted.status_code == 201 and noted.json()["internal"] is True
    messages = api.get(f"{URL}{conversation_id}/messages/").json()
    assert [(m["sender"], m["kind"], m["internal"]) for m in messages[2:]] == [
        ("system", "event", False),
        ("agent", "text", False),
        ("agent", "note", True),
    ]
    assert messages[2]["text"] == "Andy Agent joined the conversation."
    assert messages[3]["author_name"] == "Andy Agent"
    handoff = api.get(f"{URL}{conversation_id}/handoff/").json()
    assert handoff["claimed_by"]["email"] == "agent@acme.example"


def test_claiming_a_conversation_another_agent_owns_is_a_conflict(api, agent, admin):
    conversation_id = start(api)["id"]
    session_client(agent).post(f"{URL}{conversation_id}/claim/")

    again = session_client(agent).post(f"{URL}{conversation_id}/claim/")
    taken = session_client(admin).post(f"{URL}{conversation_id}/claim/")

    assert again.status_code == 200
    assert taken.status_code == 409
    assert "Andy Agent already owns" in taken.json()["detail"]
    assert api.get(f"{URL}{conversation_id}/").json()["assignee"]["email"] == "agent@acme.example"


def test_resolving_closes_the_conversation_and_a_new_question_reopens_it_to_the_ai(
    api, agent, synced_source, confident_flow
):
    conversation_id = start(api)["id"]
    say(api, conversation_id, HUMAN_PLEASE, "m-1")
    session_client(agent).post(f"{URL}{conversation_id}/claim/")

    resolved = session_client(agent).post(f"{URL}{conversation_id}/resolve/")
    reopened = say(api, conversation_id, ROUTINE_QUESTION, "m-2").json()

    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_at"]
    assert ("system", "This conversation was resolved.") in transcript(api, conversation_id)
    assert "30 minutes" in reopened["reply"]["text"]
    detail = api.get(f"{URL}{conversation_id}/").json()
    assert detail["status"] == "ai" and detail["assignee"] is None
    assert detail["resolved_at"] is None and detail["queue"] is None


def test_an_api_key_may_resolve_but_not_claim_or_reply(api):
    conversation_id = start(api)["id"]

    claimed = api.post(f"{URL}{conversation_id}/claim/")
    replied = api.post(f"{URL}{conversation_id}/reply/", {"text": "Hello"})
    resolved = api.post(f"{URL}{conversation_id}/resolve/")

    assert claimed.status_code == 403 and "sign in as an agent" in claimed.json()["detail"]
    assert replied.status_code == 403
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert Message.objects.filter(sender="agent").count() == 0


def test_an_agent_hands_a_conversation_back_and_the_ai_answers_again(
    api, agent, synced_source, confident_flow
):
    conversation_id = start(api)["id"]
    as_agent = session_client(agent)
    as_agent.post(f"{URL}{conversation_id}/claim/")

    handed_back = as_agent.post(f"{URL}{conversation_id}/hand-back/")
    again = as_agent.post(f"{URL}{conversation_id}/hand-back/")
    answer = say(api, conversation_id, ROUTINE_QUESTION, "m-1")

    assert handed_back.status_code == 200
    assert (handed_back.json()["status"], handed_back.json()["assignee"]) == ("ai", None)
    assert again.status_code == 409
    assert ("system", "You're back with our assistant.") in transcript(api, conversation_id)
    assert answer.json()["reply"]["sender"] == "ai"


def test_an_agent_transfers_a_conversation_to_another_queue_of_the_workspace(
    api, agent, workspace, other_workspace
):
    conversation_id = start(api)["id"]
    as_agent = session_client(agent)
    as_agent.post(f"{URL}{conversation_id}/claim/")
    target = workspace.queues.order_by("-tier").first()

    elsewhere = as_agent.post(
        f"{URL}{conversation_id}/transfer/",
        {"queue": other_workspace.queues.first().pk},
        format="json",
    )
    moved = as_agent.post(f"{URL}{conversation_id}/transfer/", {"queue": target.pk}, format="json")
    by_key = api.post(f"{URL}{conversation_id}/transfer/", {"queue": target.pk}, format="json")

    assert elsewhere.status_code == 400 and "queue" in elsewhere.json()
    assert moved.status_code == 200
    body = moved.json()
    assert (body["status"], body["assignee"], body["queue"]["id"]) == ("waiting", None, target.pk)
    assert by_key.status_code == 403


# --- the list and the replay ---------------------------------------------------------------


def test_the_list_filters_and_puts_the_most_urgent_and_longest_waiting_first(api, agent, workspace):
    from datetime import timedelta

    from django.utils import timezone

    from routing.models import Queue

    tier_2 = Queue.objects.get(workspace=workspace, name="Tier 2")
    now = timezone.now()
    rows: dict[str, dict[str, Any]] = {
        "fresh": {"status": "ai", "language": "pt"},
        "normal waiting": {"status": "waiting", "handed_off_at": now - timedelta(minutes=30)},
        "urgent recent": {
            "status": "waiting",
            "priority": "urgent",
            "queue": tier_2,
            "handed_off_at": now - timedelta(minutes=1),
        },
        "urgent old": {
            "status": "waiting",
            "priority": "urgent",
            "handed_off_at": now - timedelta(minutes=20),
        },
        "high mine": {
            "status": "assigned",
            "priority": "high",
            "assignee": agent,
            "handed_off_at": now - timedelta(minutes=5),
        },
    }
    ids = {}
    for name, fields in rows.items():
        ids[name] = start(api, name=name)["id"]
        Conversation.objects.filter(pk=ids[name]).update(**fields)

    def names(client=api, **query) -> list[str]:
        response = client.get(URL, query)
        assert response.status_code == 200, response.json()
        return [c["customer"]["name"] for c in response.json()]

    assert names() == ["urgent old", "urgent recent", "high mine", "normal waiting", "fresh"]
    assert names(status="waiting") == ["urgent old", "urgent recent", "normal waiting"]
    assert names(queue=tier_2.pk) == ["urgent recent"]
    assert names(priority="high") == ["high mine"]
    assert names(language="pt") == ["fresh"]
    assert names(session_client(agent), assignee="me") == ["high mine"]
    assert names(assignee="unassigned", status="waiting") == [
        "urgent old",
        "urgent recent",
        "normal waiting",
    ]
    assert names(limit=2, offset=1) == ["urgent recent", "high mine"]


def test_after_replays_exactly_the_messages_that_came_later(api, agent):
    conversation_id = start(api)["id"]
    as_agent = session_client(agent)
    say(api, conversation_id, "First", "m-1", wait=False)
    say(api, conversation_id, "Second", "m-2", wait=False)
    seen = api.get(f"{URL}{conversation_id}/messages/").json()[-1]["id"]
    as_agent.post(f"{URL}{conversation_id}/reply/", {"text": "Agent here"})
    as_agent.post(f"{URL}{conversation_id}/reply/", {"text": "a note", "internal": True})
    say(api, conversation_id, "Third", "m-3", wait=False)

    missed = api.get(f"{URL}{conversation_id}/messages/", {"after": seen}).json()

    assert [(m["sender"], m["text"]) for m in missed] == [
        ("system", "Andy Agent joined the conversation."),
        ("agent", "Agent here"),
        ("agent", "a note"),
        ("customer", "Third"),
    ]
    assert all(m["id"] > seen for m in missed)
    assert api.get(f"{URL}{conversation_id}/messages/", {"after": missed[-1]["id"]}).json() == []
    first_two = api.get(f"{URL}{conversation_id}/messages/", {"limit": 2}).json()
    assert [m["text"] for m in first_two] == ["First", "Second"]


# --- bad input, roles and tenants ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer": "Dana"}, "customer"),
        ({"customer": {"email": "not-an-email"}}, "email"),
        ({"customer": {"name": 42}}, "name"),
        ({"customer": {"plan": "p" * 61}}, "plan"),
        ({"customer": {"shoe_size": 42}}, "shoe_size"),
        ({"customer": {"attributes": ["a"]}}, "attributes"),
        ({"customer": {"attributes": {"address": {"city": "Porto"}}}}, "attributes"),
        ({"customer": {"attributes": {f"a{i}": i for i in range(51)}}}, "attributes"),
    ],
)
def test_a_malformed_customer_is_refused_naming_the_field(api, body, field):
    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    errors = response.json()["customer"]
    if field != "customer":  # a bad field inside the customer is named there
        assert field in errors, errors
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"client_id": "m-1"}, "text"),
        ({"text": "   ", "client_id": "m-1"}, "text"),
        ({"text": "x" * 4001, "client_id": "m-1"}, "text"),
        ({"text": 42, "client_id": "m-1"}, "text"),
        ({"text": "Hello"}, "client_id"),
        ({"text": "Hello", "client_id": "has space"}, "client_id"),
        ({"text": "Hello", "client_id": "m" * 65}, "client_id"),
        ({"text": "Hello", "client_id": ""}, "client_id"),
        ({"text": "Hello", "client_id": "m-1", "wait": "maybe"}, "wait"),
    ],
)
def test_a_malformed_message_is_refused_naming_the_field_and_nothing_is_stored(api, body, field):
    conversation_id = start(api)["id"]

    response = api.post(f"{URL}{conversation_id}/messages/", body, format="json")

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "Hi", "internal": "perhaps"}, "internal"),
    ],
)
def test_a_malformed_agent_reply_is_refused_naming_the_field(api, agent, body, field):
    conversation_id = start(api)["id"]

    response = session_client(agent).post(f"{URL}{conversation_id}/reply/", body, format="json")

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Message.objects.exists()
    assert api.get(f"{URL}{conversation_id}/").json()["status"] == "ai"


@pytest.mark.parametrize(
    ("query", "field"),
    [({"status": "sleeping"}, "status"), ({"queue": "tier"}, "queue"), ({"limit": 0}, "limit")],
)
def test_a_malformed_list_filter_is_refused_naming_it(api, query, field):
    response = api.get(URL, query)

    assert response.status_code == 400 and field in response.json()


def test_an_api_key_cannot_ask_for_its_own_conversations(api):
    response = api.get(URL, {"assignee": "me"})

    assert response.status_code == 400 and "assignee" in response.json()


def test_a_viewer_reads_but_cannot_act(api, viewer):
    conversation_id = start(api)["id"]
    as_viewer = session_client(viewer)

    refused = [
        as_viewer.post(URL, {}, format="json"),
        as_viewer.post(f"{URL}{conversation_id}/messages/", {"text": "Hi", "client_id": "v-1"}),
        as_viewer.post(f"{URL}{conversation_id}/claim/"),
        as_viewer.post(f"{URL}{conversation_id}/reply/", {"text": "Hi"}),
        as_viewer.post(f"{URL}{conversation_id}/resolve/"),
    ]

    assert [response.status_code for response in refused] == [403] * 5
    assert as_viewer.get(URL).status_code == 200
    assert as_viewer.get(f"{URL}{conversation_id}/messages/").status_code == 200
    assert Conversation.objects.count() == 1 and not Message.objects.exists()
    assert api.get(f"{URL}{conversation_id}/").json()["status"] == "ai"


def test_another_workspace_gets_404_and_never_sees_the_conversation(api, other_workspace, outsider):
    conversation_id = start(api)["id"]
    say(api, conversation_id, "Hello", "m-1", wait=False)
    globex_key = key_client(other_workspace)
    globex_admin = session_client(outsider, "globex")
    outsider_naming_acme = session_client(outsider, "acme")

    for client in (globex_key, globex_admin):
        assert client.get(f"{URL}{conversation_id}/").status_code == 404
        assert client.get(f"{URL}{conversation_id}/messages/").status_code == 404
        assert client.get(f"{URL}{conversation_id}/handoff/").status_code == 404
        assert say(client, conversation_id, "Hi", "x-1", wait=False).status_code == 404
        assert client.post(f"{URL}{conversation_id}/resolve/").status_code == 404
        assert client.get(URL).json() == []
    assert globex_admin.post(f"{URL}{conversation_id}/claim/").status_code == 404
    assert globex_admin.post(f"{URL}{conversation_id}/reply/", {"text": "Hi"}).status_code == 404
    assert outsider_naming_acme.get(f"{URL}{conversation_id}/").status_code == 404
    assert Message.objects.count() == 1
    assert api.get(f"{URL}{conversation_id}/").json()["status"] == "ai"


def test_the_schema_documents_every_conversation_endpoint(db):
    schema = (
        APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )

    operations = {
        operation["operationId"]
        for path, item in schema["paths"].items()
        if path.startswith(URL)
        for operation in item.values()
    }
    assert operations == {
        "conversations_list",
        "conversations_create",
        "conversations_retrieve",
        "conversations_messages_list",
        "conversations_messages_create",
        "conversations_claim",
        "conversations_resolve",
        "conversations_hand_back",
        "conversations_transfer",
        "conversations_assign",
        "conversations_reopen",
        "conversations_reply",
        "conversations_handoff",
        "conversations_action_requests_list",
        "conversations_action_requests_create",
    }
    posted = schema["paths"][f"{URL}{{conversation_id}}/messages/"]["post"]
    assert set(posted["responses"]) == {"200", "201"}
    assert schema["components"]["schemas"]["ConversationStatusEnum"]["enum"] == [
        "ai",
        "waiting",
        "assigned",
        "resolved",
    ]


def test_an_agent_assigns_a_conversation_to_a_named_colleague_and_bad_assignees_are_refused(
    api, agent, admin, viewer
):
    conversation_id = start(api)["id"]
    as_agent = session_client(agent)

    to_viewer = as_agent.post(
        f"{URL}{conversation_id}/assign/", {"assignee": viewer.pk}, format="json"
    )
    to_nobody = as_agent.post(
        f"{URL}{conversation_id}/assign/", {"assignee": 999999}, format="json"
    )
    not_a_number = as_agent.post(
        f"{URL}{conversation_id}/assign/", {"assignee": "Alice"}, format="json"
    )
    by_key = api.post(f"{URL}{conversation_id}/assign/", {"assignee": admin.pk}, format="json")
    assigned = as_agent.post(
        f"{URL}{conversation_id}/assign/", {"assignee": admin.pk}, format="json"
    )

    assert to_viewer.status_code == 400
    assert to_viewer.json()["assignee"] == ["Choose an agent or admin of this workspace."]
    assert to_nobody.status_code == 400 and not_a_number.status_code == 400
    assert by_key.status_code == 403
    assert assigned.status_code == 200
    assert assigned.json()["status"] == "assigned"
    assert assigned.json()["assignee"]["email"] == "admin@acme.example"


def test_an_agent_reopens_a_resolved_conversation_and_reopening_an_open_one_is_a_conflict(
    api, agent
):
    conversation_id = start(api)["id"]
    as_agent = session_client(agent)
    too_early = as_agent.post(f"{URL}{conversation_id}/reopen/")
    as_agent.post(f"{URL}{conversation_id}/resolve/")

    reopened = as_agent.post(f"{URL}{conversation_id}/reopen/")

    assert too_early.status_code == 409
    assert "Only a resolved conversation can be reopened." in too_early.json()["detail"]
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "assigned"
    assert reopened.json()["assignee"]["email"] == "agent@acme.example"
