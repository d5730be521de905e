"""AI action requests: the policy paths, who may approve, the signed webhook, what the customer
and the agents see, expiry, the audit trail, the offline matcher in the reply path, and a
property test that no sequence of calls runs a destructive action without an allowed approver."""

from __future__ import annotations

import html
import json
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from console.models import Membership, Role, User
from console.realtime import workspace_group_name
from console.services import membership_set
from conversations.action_matching import action_match
from conversations.action_requests import (
    action_request_approve,
    action_request_create,
    action_request_execute,
    action_request_outcome_record,
    action_request_propose,
    action_request_reject,
    action_requests_expire,
)
from conversations.models import (
    ActionRequest,
    ActionRequestStatus,
    ActorKind,
    Conversation,
    Message,
    Sender,
)
from conversations.realtime import conversation_group_name
from conversations.selectors import messages_after
from conversations.services import conversation_start
from routing.actions import (
    action_create,
    action_templates_install,
    action_update,
    action_webhook_secret_get_or_create,
)
from routing.models import Action, ActionPolicy, ActionRisk
from routing.selectors import may_approve
from routing.webhooks import webhook_verify
from tests.conftest import client_for, make_user
from tests.conversations.conftest import key_client, session_client
from tests.conversations.test_chat_consumer import chat as chat_socket
from tests.conversations.test_realtime import Listener
from tests.routing.fake_backend import Reply

pytestmark = pytest.mark.django_db

CONVERSATIONS = "/api/v1/conversations/"
REQUESTS = "/api/v1/action-requests/"
WAITING = "Your refund request is waiting for approval by our team."


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def senior(workspace) -> User:
    """A tier-2 agent: by default may approve write actions, not destructive ones."""
    user = make_user("senior@acme.example", "Sam Senior")
    membership_set(workspace=workspace, user=user, role=Role.AGENT, tier=2)
    return user


def enable(actions: list[Action], url: str) -> dict[str, Action]:
    return {
        action.key: action_update(action=action, changes={"webhook_url": url, "enabled": True})
        for action in actions
    }


@pytest.fixture
def actions(workspace, fake_backend) -> dict[str, Action]:
    """The built-in templates, pointed at the fake backend and enabled."""
    return enable(action_templates_install(workspace=workspace).actions, fake_backend.url)


@pytest.fixture
def conversation(workspace) -> Conversation:
    return conversation_start(
        workspace=workspace,
        customer_data={"external_id": "u-42", "name": "Ana", "email": "ana@example.com"},
        verified=True,
    )


def customer_sees(conversation: Conversation) -> list[str]:
    return [m.text for m in messages_after(conversation=conversation, customer_view=True)]


def ask(client, conversation: Conversation, action: str, parameters: dict[str, Any]):
    return client.post(
        f"{CONVERSATIONS}{conversation.pk}/action-requests/",
        {"action": action, "parameters": parameters},
        format="json",
    )


def approve(client, request_id: int, parameters: dict[str, Any] | None = None):
    body = {"parameters": parameters} if parameters is not None else {}
    return client.post(f"{REQUESTS}{request_id}/approve/", body, format="json")


def trail(request_id: int) -> list[tuple[str, str, str]]:
    """The audit log as (status, actor kind, who)."""
    request = ActionRequest.objects.get(pk=request_id)
    return [
        (event.status, event.actor_kind, event.actor.email if event.actor else "")
        for event in request.events.select_related("actor").order_by("id")
    ]


def status_of(request_id: int) -> str:
    return ActionRequest.objects.get(pk=request_id).status


REFUND = {"amount": 20, "currency": "EUR", "reason": "Charged twice"}


# --- policy paths ----------------------------------------------------------------------------


def test_an_approval_action_waits_and_the_customer_is_told(
    api, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        response = ask(api, conversation, "issue_refund", REFUND)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert [e["status"] for e in body["events"]] == ["requested", "pending"]
    assert customer_sees(conversation)[-1] == WAITING
    assert fake_backend.received == []


def test_an_autonomous_action_runs_at_once_signed_and_the_customer_sees_it_done(
    api, workspace, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        response = ask(api, conversation, "send_password_reset", {"email": "ana@example.com"})
    assert response.status_code == 201
    request = ActionRequest.objects.get(pk=response.json()["id"])
    assert request.status == ActionRequestStatus.EXECUTED
    (received,) = fake_backend.received
    secret = action_webhook_secret_get_or_create(workspace=workspace).secret
    assert webhook_verify(secret, received.headers["x-support-signature"], received.body)
    assert received.headers["idempotency-key"] == str(request.idempotency_key)
    sent = json.loads(received.body)
    assert sent["action"] == "send_password_reset"
    assert sent["data"]["parameters"] == {"email": "ana@example.com"}
    assert sent["data"]["customer"]["external_id"] == "u-42"
    assert customer_sees(conversation)[-1] == ("Done: we sent a reset link to the address on file.")


def test_a_suggestion_is_for_agents_until_an_allowed_agent_approves_it(
    actions, conversation, senior, fake_backend, after_commit
):
    action_update(action=actions["add_seat"], changes={"policy": ActionPolicy.SUGGEST})
    with after_commit():
        request = action_request_create(
            conversation=conversation,
            action=Action.objects.get(key="add_seat"),
            parameters={"seats": 2},
            requested_by_ai=True,
        )
    assert request.status == ActionRequestStatus.SUGGESTED
    before = customer_sees(conversation)
    assert not any("seats" in text for text in before)  # a suggestion is not announced

    with after_commit():
        response = approve(session_client(senior), request.pk)
    assert response.status_code == 200, response.json()
    assert status_of(request.pk) == "executed"
    assert len(fake_backend.received) == 1
    assert customer_sees(conversation)[-1] == "Done: the seats were added."


def test_a_never_or_disabled_action_is_refused(api, actions, conversation, fake_backend):
    action_update(action=actions["issue_refund"], changes={"policy": ActionPolicy.NEVER})
    action_update(action=actions["add_seat"], changes={"enabled": False})

    never = ask(api, conversation, "issue_refund", REFUND)
    disabled = ask(api, conversation, "add_seat", {"seats": 1})

    assert never.status_code == 400 and "never" in never.json()["action"][0]
    assert disabled.status_code == 400 and "disabled" in disabled.json()["action"][0]
    assert ActionRequest.objects.count() == 0 and fake_backend.received == []


def test_bad_or_missing_parameters_from_a_person_are_refused_with_their_names(
    api, actions, conversation
):
    response = ask(api, conversation, "issue_refund", {"amount": -5, "currency": "EUR"})
    assert response.status_code == 400
    assert set(response.json()) == {"amount", "reason"}


def test_a_destructive_action_waits_even_if_its_row_claimed_to_be_autonomous(
    actions, conversation, fake_backend, after_commit
):
    """The database refuses destructive + autonomous, so a row read from it cannot say so; a
    stale or tampered object in memory can, and the service still does not run it."""
    tampered = Action.objects.get(key="delete_account")
    tampered.policy = ActionPolicy.AUTONOMOUS
    with after_commit():
        request = action_request_create(
            conversation=conversation, action=tampered, parameters={}, requested_by_ai=True
        )
    assert request.status == ActionRequestStatus.PENDING
    assert fake_backend.received == []


# --- who approves ----------------------------------------------------------------------------


def test_only_an_allowed_person_approves_a_destructive_action(
    workspace, api, admin, agent, senior, viewer, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        created = ask(api, conversation, "cancel_subscription", {"when": "end_of_period"})
    request_id = created.json()["id"]

    by_key = approve(api, request_id)
    by_tier1 = approve(session_client(agent), request_id)
    by_tier2 = approve(session_client(senior), request_id)
    by_viewer = approve(session_client(viewer), request_id)

    assert by_key.status_code == 403 and "API key" in by_key.json()["detail"]
    for refused in (by_tier1, by_tier2, by_viewer):
        assert refused.status_code == 403
        assert refused.json()["detail"] == (
            "Only admins may approve destructive actions in this workspace."
        )
    assert fake_backend.received == []
    assert ActionRequest.objects.get(pk=request_id).status == "pending"

    with after_commit():
        by_admin = approve(session_client(admin), request_id)
    assert by_admin.status_code == 200
    assert status_of(request_id) == "executed"
    assert len(fake_backend.received) == 1
    assert customer_sees(conversation)[-1] == "Done: your subscription was cancelled."


def test_the_audit_trail_lists_each_step_with_who(
    api, admin, agent, actions, conversation, after_commit
):
    with after_commit():
        created = ask(session_client(agent), conversation, "issue_refund", REFUND)
        approve(session_client(admin), created.json()["id"])
    detail = api.get(f"{REQUESTS}{created.json()['id']}/").json()

    assert trail(detail["id"]) == [
        ("requested", ActorKind.AGENT, "agent@acme.example"),
        ("pending", ActorKind.SYSTEM, ""),
        ("approved", ActorKind.AGENT, "admin@acme.example"),
        ("executed", ActorKind.SYSTEM, ""),
    ]
    approved = detail["events"][2]
    assert approved["actor"]["name"] == "Alice Admin" and approved["actor_role"] == "admin"
    assert detail["events"][3]["note"] == "HTTP 200 after 1 attempt."
    assert detail["requested_by"]["email"] == "agent@acme.example"


def test_an_approver_fills_in_what_the_ai_could_not_tell(
    admin, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        request = action_request_create(
            conversation=conversation,
            action=actions["issue_refund"],
            parameters={"reason": "I want a refund for last month"},
            requested_by_ai=True,
        )
    assert request.missing_parameters == ["amount", "currency"]
    client = session_client(admin)

    incomplete = approve(client, request.pk)
    with after_commit():
        complete = approve(client, request.pk, {"amount": 49.5, "currency": "USD"})

    assert incomplete.status_code == 400 and set(incomplete.json()) == {"amount", "currency"}
    assert complete.status_code == 200 and status_of(request.pk) == "executed"
    sent = json.loads(fake_backend.received[0].body)["data"]["parameters"]
    assert sent == {"amount": 49.5, "currency": "USD", "reason": "I want a refund for last month"}


# --- how it ends -----------------------------------------------------------------------------


def test_a_backend_error_fails_after_retries_and_the_customer_is_told(
    api, admin, actions, conversation, fake_backend, after_commit
):
    fake_backend.script(Reply(status=500, body=b'{"error": "down"}'))
    with after_commit():
        created = ask(api, conversation, "issue_refund", REFUND)
        response = approve(session_client(admin), created.json()["id"])

    assert response.status_code == 200
    detail = api.get(f"{REQUESTS}{created.json()['id']}/").json()
    assert detail["status"] == "failed" and detail["error"] == "HTTP 500"
    keys = {received.headers["idempotency-key"] for received in fake_backend.received}
    assert len(fake_backend.received) == 3 and len(keys) == 1  # retried, never twice as new
    assert detail["events"][-1]["note"] == "HTTP 500 after 3 attempts."
    assert customer_sees(conversation)[-1] == (
        "We could not complete your refund request. Our team has been told and will follow up."
    )


def test_a_rejected_request_never_runs_and_the_customer_is_told(
    api, admin, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        created = ask(api, conversation, "issue_refund", REFUND)
        rejected = session_client(admin).post(
            f"{REQUESTS}{created.json()['id']}/reject/", {"note": "Outside the refund window"}
        )
    again = approve(session_client(admin), created.json()["id"])

    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["events"][-1]["note"] == "Outside the refund window"
    assert again.status_code == 409
    assert customer_sees(conversation)[-1] == (
        "Our team could not approve your refund request. An agent can tell you more."
    )
    assert "Outside the refund window" not in " ".join(customer_sees(conversation))
    assert fake_backend.received == []


def test_a_request_nobody_decides_on_expires_after_a_day(
    api, admin, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        created = ask(api, conversation, "issue_refund", REFUND)
    request_id = created.json()["id"]

    with after_commit():
        assert action_requests_expire(now=timezone.now() + timedelta(hours=23)) == 0
        assert action_requests_expire(now=timezone.now() + timedelta(hours=25)) == 1

    assert ActionRequest.objects.get(pk=request_id).status == ActionRequestStatus.EXPIRED
    assert trail(request_id)[-1] == ("expired", ActorKind.SYSTEM, "")
    assert approve(session_client(admin), request_id).status_code == 409
    assert customer_sees(conversation)[-1] == (
        "Your refund request was not approved in time. Please ask again if you still need it."
    )
    assert fake_backend.received == []


def test_agents_and_the_customer_hear_of_each_step_live(
    api, admin, workspace, actions, conversation, after_commit
):
    chat = Listener(conversation_group_name(conversation.pk))
    inbox = Listener(workspace_group_name(workspace.pk))
    with after_commit():
        created = ask(api, conversation, "issue_refund", REFUND)
        approve(session_client(admin), created.json()["id"])

    steps = [
        event["action_request"]["status"]
        for event in inbox.events()
        if event.get("change") == "action_request"
    ]
    said = [event["message"]["text"] for event in chat.events() if event["type"] == "message"]
    assert steps == ["pending", "approved", "executed"]
    assert said == [WAITING, "Done: your refund was issued."]


def test_outsiders_get_404(actions, conversation, outsider, other_workspace, api, after_commit):
    with after_commit():
        created = ask(api, conversation, "issue_refund", REFUND)
    request_id = created.json()["id"]
    foreign_key = key_client(other_workspace)
    foreign_person = session_client(outsider, "globex")

    assert foreign_key.get(f"{REQUESTS}{request_id}/").status_code == 404
    assert approve(foreign_key, request_id).status_code == 403  # a key never approves
    assert approve(foreign_person, request_id).status_code == 404
    assert foreign_key.get(f"{CONVERSATIONS}{conversation.pk}/action-requests/").status_code == 404


def test_the_api_is_in_the_schema(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/api/v1/conversations/{conversation_id}/action-requests/" in schema["paths"]
    assert "/api/v1/action-requests/{request_id}/approve/" in schema["paths"]


# --- the offline flow's proposal -------------------------------------------------------------


def test_the_matcher_proposes_a_refund_and_not_for_a_password_question(workspace, actions):
    matched = action_match(workspace=workspace, text="I want a refund for last month")
    assert matched is not None and matched[0].key == "issue_refund"
    # "How do I reset my password?" is an example phrasing of the password reset template: with
    # that action enabled it is (rightly) the one proposed, never a refund ...
    password = action_match(workspace=workspace, text="how do I reset my password")
    assert password is not None and password[0].key == "send_password_reset"
    # ... and with it disabled, nothing is.
    action_update(action=actions["send_password_reset"], changes={"enabled": False})
    assert action_match(workspace=workspace, text="how do I reset my password") is None
    assert action_match(workspace=workspace, text="What are your opening hours?") is None


def test_the_matcher_ignores_never_and_disabled_actions_and_forgives_typos(workspace, actions):
    typo = action_match(workspace=workspace, text="plz I want a refnd")
    assert typo is not None and typo[0].key == "issue_refund"
    action_update(action=actions["issue_refund"], changes={"policy": ActionPolicy.NEVER})
    assert action_match(workspace=workspace, text="I want a refund") is None


def test_the_reply_job_requests_a_matched_action_for_an_agent_to_complete(
    api, actions, confident_flow, fake_backend
):
    created = api.post(CONVERSATIONS, {"customer": {"external_id": "u-7"}}, format="json")
    conversation = Conversation.objects.get(pk=created.json()["id"])
    api.post(
        f"{CONVERSATIONS}{conversation.pk}/messages/",
        {"text": "I want a refund for last month", "client_id": "m-1", "wait": True},
        format="json",
    )
    api.post(
        f"{CONVERSATIONS}{conversation.pk}/messages/",
        {"text": "What are your opening hours?", "client_id": "m-2", "wait": True},
        format="json",
    )

    (request,) = ActionRequest.objects.filter(conversation=conversation)
    assert request.action.key == "issue_refund" and request.requested_by_ai
    assert request.status == ActionRequestStatus.PENDING
    assert request.missing_parameters == ["amount", "currency"]
    assert request.parameters == {"reason": "I want a refund for last month"}
    assert WAITING in customer_sees(conversation)
    assert fake_backend.received == []


# --- what the customer's chat is sent ---------------------------------------------------------


def action_frames(chat: Listener) -> list[dict[str, Any]]:
    return [event for event in chat.events() if event["type"] == "action"]


def statuses(frames: list[dict[str, Any]]) -> list[str]:
    return [frame["action"]["status"] for frame in frames]


def test_the_chat_gets_a_typed_event_for_each_step_with_nothing_internal_in_it(
    api, admin, actions, conversation, fake_backend, after_commit
):
    chat = Listener(conversation_group_name(conversation.pk))
    with after_commit():
        created = ask(api, conversation, "issue_refund", {**REFUND, "reason": "Charged twice"})
        approve(session_client(admin), created.json()["id"], {"amount": 25})

    frames = action_frames(chat)
    assert frames == [
        {
            "type": "action",
            "action": {"id": created.json()["id"], "name": "Refund request", "status": status},
        }
        for status in ("pending", "approved", "executed")
    ]
    sent = json.dumps(frames)
    for secret in ("Charged twice", "25", "EUR", "Alice", "admin@", fake_backend.url, "HTTP 200"):
        assert secret not in sent


def test_the_chat_hears_of_a_failure(api, admin, actions, conversation, fake_backend, after_commit):
    fake_backend.script(Reply(status=400, body=b'{"error": "no such payment"}'))
    chat = Listener(conversation_group_name(conversation.pk))
    with after_commit():
        created = ask(api, conversation, "issue_refund", REFUND)
        approve(session_client(admin), created.json()["id"])

    frames = action_frames(chat)
    assert statuses(frames) == ["pending", "approved", "failed"]
    assert "no such payment" not in json.dumps(frames)


def test_the_chat_hears_of_a_rejection_but_not_its_note(
    api, admin, actions, conversation, after_commit
):
    chat = Listener(conversation_group_name(conversation.pk))
    with after_commit():
        created = ask(api, conversation, "issue_refund", REFUND)
        session_client(admin).post(
            f"{REQUESTS}{created.json()['id']}/reject/", {"note": "Fraud suspected"}
        )

    frames = action_frames(chat)
    assert statuses(frames) == ["pending", "rejected"]
    assert "Fraud suspected" not in json.dumps(frames)


def test_the_chat_hears_of_an_expiry(api, actions, conversation, after_commit):
    chat = Listener(conversation_group_name(conversation.pk))
    with after_commit():
        ask(api, conversation, "issue_refund", REFUND)
        action_requests_expire(now=timezone.now() + timedelta(hours=25))

    assert statuses(action_frames(chat)) == ["pending", "expired"]


def test_a_suggestion_reaches_the_chat_only_once_approved(
    actions, conversation, senior, after_commit
):
    action_update(action=actions["add_seat"], changes={"policy": ActionPolicy.SUGGEST})
    chat = Listener(conversation_group_name(conversation.pk))

    def suggest() -> ActionRequest:
        return action_request_create(
            conversation=conversation,
            action=Action.objects.get(key="add_seat"),
            parameters={"seats": 2},
            requested_by_ai=True,
        )

    with after_commit():
        turned_down = suggest()
        session_client(senior).post(f"{REQUESTS}{turned_down.pk}/reject/", {"note": "No"})
        forgotten = suggest()
        action_requests_expire(now=timezone.now() + timedelta(hours=25))
    assert action_frames(chat) == []  # never announced: nothing to take back either
    assert ActionRequest.objects.get(pk=forgotten.pk).status == ActionRequestStatus.EXPIRED

    with after_commit():
        taken_up = suggest()
        approve(session_client(senior), taken_up.pk)
    frames = action_frames(chat)
    assert statuses(frames) == ["approved", "executed"]
    assert {frame["action"]["id"] for frame in frames} == {taken_up.pk}
    assert frames[0]["action"]["name"] == "Request for more seats"


def test_an_autonomous_action_shows_approved_then_done(api, actions, conversation, after_commit):
    chat = Listener(conversation_group_name(conversation.pk))
    with after_commit():
        ask(api, conversation, "send_password_reset", {"email": "ana@example.com"})

    frames = action_frames(chat)
    assert statuses(frames) == ["approved", "executed"]
    assert frames[0]["action"]["name"] == "Password reset"
    assert "ana@example.com" not in json.dumps(frames)


def test_an_admins_own_action_is_named_as_the_admin_named_it(
    workspace, api, admin, conversation, fake_backend, after_commit
):
    action_create(
        workspace=workspace,
        key="extend_trial",
        name="Extend your trial",
        description="Give the customer 14 more days of trial.",
        risk=ActionRisk.WRITE,
        policy=ActionPolicy.APPROVAL,
        webhook_url=fake_backend.url,
        enabled=True,
    )
    chat = Listener(conversation_group_name(conversation.pk))
    with after_commit():
        ask(api, conversation, "extend_trial", {})

    (frame,) = action_frames(chat)
    assert frame["action"]["name"] == "Extend your trial"
    assert frame["action"]["status"] == "pending"


def test_a_request_without_a_conversation_sends_no_chat_event(
    workspace, api, actions, after_commit
):
    """An API client may ask for an action outside any conversation: there is no chat to tell."""
    chat = Listener(conversation_group_name(0))
    with after_commit():
        request = action_request_create(
            conversation=None,
            action=actions["issue_refund"],
            parameters=REFUND,
            requested_by_ai=False,
        )
    assert request.status == ActionRequestStatus.PENDING
    assert chat.events() == []


@pytest.mark.django_db(transaction=True)
async def test_the_customers_socket_receives_the_action_frames(workspace, admin, fake_backend):
    """Through the real chat consumer: the customer's browser is sent the pending frame right
    after the line it explains, then the outcome."""
    await sync_to_async(_refund_ready)(workspace, fake_backend.url)
    async with chat_socket() as (socket, welcome):
        request_id = await sync_to_async(_refund_asked)(welcome["conversation_id"])
        line = await socket.receive_json_from(timeout=10)
        pending = await socket.receive_json_from(timeout=10)
        await sync_to_async(_refund_approved)(request_id, admin)
        frames = [await socket.receive_json_from(timeout=10) for _ in range(3)]

    assert line["type"] == "message" and line["message"]["text"] == WAITING
    assert pending == {
        "type": "action",
        "action": {"id": request_id, "name": "Refund request", "status": "pending"},
    }
    assert [(frame["type"], frame.get("action", {}).get("status")) for frame in frames] == [
        ("action", "approved"),
        ("message", None),
        ("action", "executed"),
    ]
    assert frames[1]["message"]["text"] == "Done: your refund was issued."


def _refund_ready(workspace, url: str) -> None:
    enable(action_templates_install(workspace=workspace).actions, url)


def _refund_asked(conversation_id: int) -> int:
    request = action_request_create(
        conversation=Conversation.objects.get(pk=conversation_id),
        action=Action.objects.get(key="issue_refund"),
        parameters={"reason": "I want a refund"},
        requested_by_ai=True,
    )
    return request.pk


def _refund_approved(request_id: int, admin: User) -> None:
    action_request_approve(
        request=ActionRequest.objects.get(pk=request_id),
        by=admin,
        parameters={"amount": 20, "currency": "EUR"},
    )


# --- the inbox -------------------------------------------------------------------------------


def page_of(user: User, conversation: Conversation) -> str:
    response = client_for(user).get(f"/w/acme/inbox/{conversation.pk}/")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_the_inbox_shows_approve_to_an_allowed_user_only(
    api, admin, agent, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        ask(api, conversation, "delete_account", {"reason": "Moving on"})

    for_admin = page_of(admin, conversation)
    for_agent = page_of(agent, conversation)

    assert "Delete account" in for_admin and ">Approve</button>" in for_admin
    assert "Delete account" in for_agent and ">Approve</button>" not in for_agent
    assert "Waiting for approval by admins." in for_agent


def test_an_admin_approves_in_the_inbox_and_sees_it_done(
    api, admin, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        created = ask(api, conversation, "issue_refund", REFUND)
        response = client_for(admin).post(
            f"/w/acme/inbox/{conversation.pk}/action-requests/{created.json()['id']}/approve/",
            {"parameters": ""},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    assert ">Approve</button>" not in html.unescape(response.content.decode())
    assert len(fake_backend.received) == 1
    page = page_of(admin, conversation)
    assert "Done: your refund was issued." in page  # the customer's line, in the transcript
    assert ">Approve</button>" not in page


def test_a_tier1_agent_posting_approve_anyway_is_refused(
    api, agent, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        created = ask(api, conversation, "delete_account", {})
        response = client_for(agent).post(
            f"/w/acme/inbox/{conversation.pk}/action-requests/{created.json()['id']}/approve/",
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 400
    assert "Only admins may approve destructive actions" in html.unescape(response.content.decode())
    assert fake_backend.received == []


def inbox_post(user: User, conversation: Conversation, request_id: int, decision: str, **data):
    return client_for(user).post(
        f"/w/acme/inbox/{conversation.pk}/action-requests/{request_id}/{decision}/",
        data,
        HTTP_HX_REQUEST="true",
    )


@pytest.mark.parametrize(
    ("posted", "error"),
    [
        ("{amount: 20}", 'Write the parameters as JSON, e.g. {"amount": 20}.'),
        ("[20, 21]", 'Write the parameters as a JSON object, e.g. {"amount": 20}.'),
        ('{"amount": -5}', "amount: "),
        ('{"amount": 20, "currency": "EUR", "owner": "mallory"}', "owner: "),
    ],
)
def test_bad_parameters_in_the_inbox_are_refused_and_the_request_still_waits(
    posted, error, api, admin, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        created = ask(api, conversation, "issue_refund", REFUND)
        response = inbox_post(
            admin, conversation, created.json()["id"], "approve", parameters=posted
        )

    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert error in page
    assert ">Approve</button>" in page  # the form is still there to correct it
    assert status_of(created.json()["id"]) == "pending"
    assert ActionRequest.objects.get().parameters == REFUND
    assert fake_backend.received == []


def test_a_request_is_decided_only_through_its_own_conversation(
    api, admin, workspace, actions, conversation, fake_backend, after_commit
):
    other = conversation_start(workspace=workspace, customer_data=None)
    with after_commit():
        created = ask(api, conversation, "issue_refund", REFUND)
        through_other = inbox_post(admin, other, created.json()["id"], "approve", parameters="")
        unknown = inbox_post(admin, conversation, 10**9, "approve", parameters="")

    assert through_other.status_code == 404 and unknown.status_code == 404
    assert status_of(created.json()["id"]) == "pending"
    assert fake_backend.received == []


def test_a_forged_form_without_htmx_gets_the_page_with_the_refusal(
    api, agent, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        created = ask(api, conversation, "cancel_subscription", {"when": "immediately"})
        response = client_for(agent).post(
            f"/w/acme/inbox/{conversation.pk}/action-requests/{created.json()['id']}/approve/",
            {"parameters": ""},
        )

    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert "Only admins may approve destructive actions in this workspace." in page
    assert "Waiting for approval by admins." in page
    assert status_of(created.json()["id"]) == "pending"
    assert fake_backend.received == []


def test_deciding_twice_in_the_inbox_says_it_is_decided_already(
    api, admin, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        created = ask(api, conversation, "issue_refund", REFUND)
        inbox_post(admin, conversation, created.json()["id"], "approve", parameters="")
    with after_commit():
        again = inbox_post(admin, conversation, created.json()["id"], "approve", parameters="")
        late_no = inbox_post(admin, conversation, created.json()["id"], "reject", note="Oops")

    for response in (again, late_no):
        assert response.status_code == 400
        assert "This request is done: it can no longer be" in response.content.decode()
    assert status_of(created.json()["id"]) == "executed"
    assert len(fake_backend.received) == 1


def test_a_long_rejection_note_is_kept_short_and_never_reaches_the_customer(
    api, admin, actions, conversation, after_commit
):
    chat = Listener(conversation_group_name(conversation.pk))
    with after_commit():
        created = ask(api, conversation, "issue_refund", REFUND)
        response = inbox_post(
            admin, conversation, created.json()["id"], "reject", note="<b>x</b>" * 200
        )

    assert response.status_code == 200
    note = ActionRequest.objects.get().events.get(status="rejected").note
    assert len(note) == 500 and note.startswith("<b>x</b>")
    assert "<b>x</b>" not in response.content.decode()  # escaped in the history
    said = json.dumps(chat.events())
    assert "<b>" not in said and "x</b>" not in said


# --- property: nothing destructive runs without an allowed approver --------------------------

PERSONAS = ("viewer", "agent", "senior", "admin", "api")
ACTION_KEYS = ("delete_account", "cancel_subscription", "issue_refund", "send_password_reset")
PARAMETERS: dict[str, dict[str, Any]] = {
    "delete_account": {"reason": "bye"},
    "cancel_subscription": {"when": "immediately"},
    "issue_refund": REFUND,
    "send_password_reset": {"email": "ana@example.com"},
}

# Approvals are drawn more often, and admins among approvers twice as often, so that many
# sequences reach a destructive action actually running (see --hypothesis-show-statistics).
APPROVERS = (*PERSONAS, "admin")
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("create"), st.sampled_from((*PERSONAS, "ai")), st.sampled_from(ACTION_KEYS)
        ),
        st.tuples(st.just("create_tampered"), st.sampled_from(ACTION_KEYS)),
        st.tuples(st.just("approve"), st.sampled_from(APPROVERS), st.integers(0, 2)),
        st.tuples(st.just("approve"), st.sampled_from(APPROVERS), st.integers(0, 2)),
        st.tuples(st.just("reject"), st.sampled_from(PERSONAS), st.integers(0, 2)),
        st.tuples(st.just("execute"), st.integers(0, 2)),
        st.tuples(st.just("forge_outcome"), st.integers(0, 2)),
        st.tuples(st.just("expire"), st.integers(0, 30)),
    ),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.tuples(
        st.just("create"),
        st.sampled_from((*PERSONAS, "ai")),
        st.sampled_from(("delete_account", "cancel_subscription")),
    ),
    steps=operations,
)
def test_no_sequence_of_calls_runs_a_destructive_action_without_an_allowed_approver(
    first, steps, workspace, admin, agent, senior, viewer, actions, fake_backend, after_commit
):
    fake_backend.received.clear()
    conversation = conversation_start(workspace=workspace, customer_data=None)
    people = {"viewer": viewer, "agent": agent, "senior": senior, "admin": admin}
    clients = {name: session_client(user) for name, user in people.items()}
    clients["api"] = key_client(workspace)
    created: list[int] = []

    def pick(index: int) -> int | None:
        return created[index % len(created)] if created else None

    # Every sequence starts by asking for a destructive action, so that most of them exercise it.
    for step in [first, *steps]:
        with after_commit():
            _run(step, conversation, clients, people, created, pick)

    _assert_no_destructive_run_without_allowed_approval(workspace, created, fake_backend)


def _run(step, conversation, clients, people, created, pick) -> None:
    kind = step[0]
    if kind == "create":
        _, who, key = step
        action = Action.objects.get(workspace=conversation.workspace, key=key)
        if who == "ai":
            request = action_request_create(
                conversation=conversation, action=action, parameters={}, requested_by_ai=True
            )
            created.append(request.pk)
            return
        response = ask(clients[who], conversation, key, PARAMETERS[key])
        if response.status_code == 201:
            created.append(response.json()["id"])
        else:
            assert response.status_code == 403 and who == "viewer", response.json()
    elif kind == "create_tampered":
        action = Action.objects.get(workspace=conversation.workspace, key=step[1])
        action.policy = ActionPolicy.AUTONOMOUS  # what a confused model or stale row might say
        request = action_request_create(
            conversation=conversation,
            action=action,
            parameters=PARAMETERS[step[1]],
            requested_by_ai=True,
        )
        created.append(request.pk)
    elif kind in ("approve", "reject") and pick(step[2]) is not None:
        client = clients[step[1]]
        url = f"{REQUESTS}{pick(step[2])}/{kind}/"
        body = {"parameters": _parameters_of(pick(step[2]))} if kind == "approve" else {}
        response = client.post(url, body, format="json")
        assert response.status_code in (200, 400, 403, 409), response.content
    elif kind == "execute" and pick(step[1]) is not None:
        action_request_execute(pick(step[1]))
    elif kind == "forge_outcome" and pick(step[1]) is not None:
        action_request_outcome_record(request_id=pick(step[1]), result={"ok": True, "status": 200})
    elif kind == "expire":
        action_requests_expire(now=timezone.now() + timedelta(hours=step[1]))


def _parameters_of(request_id: int) -> dict[str, Any]:
    return PARAMETERS[ActionRequest.objects.get(pk=request_id).action.key]


def _assert_no_destructive_run_without_allowed_approval(workspace, created, backend) -> None:
    called = {json.loads(received.body)["data"]["request_id"] for received in backend.received}
    assert called <= set(created)
    for request in ActionRequest.objects.filter(pk__in=created).select_related("action"):
        ran = request.pk in called or request.status in ("executed", "failed")
        if request.action.risk != ActionRisk.DESTRUCTIVE or not ran:
            continue
        approvals = [
            step
            for step in request.events.select_related("actor")
            if step.status == ActionRequestStatus.APPROVED
        ]
        hypothesis_event(
            "a destructive action ran"
        )  # how often the property is exercised, in statistics
        assert approvals, f"destructive request {request.pk} ran without an approval"
        for step in approvals:
            assert step.actor_kind == ActorKind.AGENT and step.actor is not None
            membership = Membership.objects.get(workspace=workspace, user=step.actor)
            assert may_approve(
                membership=membership, risk=ActionRisk.DESTRUCTIVE, workspace=workspace
            )
            assert step.actor_role == "admin"


def test_a_refused_proposal_leaves_the_reply_alone(actions, conversation):
    """The reply job must never fail because the matched action cannot be asked for."""
    action_update(action=actions["issue_refund"], changes={"policy": ActionPolicy.SUGGEST})
    message = Message.objects.create(
        conversation=conversation,
        workspace_id=conversation.workspace_id,
        sender=Sender.CUSTOMER,
        text="I want a refund, it cost 5000000 EUR",  # EUR is extracted; the rest is left
    )
    proposed = action_request_propose(conversation=conversation, message=message)
    assert proposed is not None and proposed.status == ActionRequestStatus.SUGGESTED
    assert proposed.parameters["currency"] == "EUR"

    action_update(action=actions["issue_refund"], changes={"enabled": False})
    assert action_request_propose(conversation=conversation, message=message) is None
    with pytest.raises(ValidationError):
        action_request_create(
            conversation=conversation,
            action=Action.objects.get(key="issue_refund"),
            parameters={},
            requested_by_ai=True,
        )


def test_an_action_with_requests_on_record_is_disabled_not_deleted(
    api, actions, conversation, after_commit
):
    with after_commit():
        ask(api, conversation, "issue_refund", REFUND)
    response = api.delete(f"/api/v1/routing/actions/{actions['issue_refund'].pk}/")
    assert response.status_code == 400 and "disable it" in response.json()[0]
    assert ActionRequest.objects.filter(action=actions["issue_refund"]).count() == 1


def test_a_conversation_the_ai_still_has_is_listed_while_a_request_waits_for_an_agent(
    api, admin, actions, conversation, fake_backend, after_commit
):
    with after_commit():
        ask(api, conversation, "delete_account", {"reason": "Moving on"})
    conversation.refresh_from_db()
    listed_while_waiting = html.unescape(client_for(admin).get("/w/acme/inbox/").content.decode())

    request = ActionRequest.objects.get(conversation=conversation)
    with after_commit():
        action_request_reject(request=request, by=admin, note="Not now")
    listed_after = html.unescape(client_for(admin).get("/w/acme/inbox/").content.decode())

    assert conversation.status == "ai"  # nobody handed it off: the AI still talks
    assert f'id="conversation-{conversation.pk}"' in listed_while_waiting
    assert f'id="conversation-{conversation.pk}"' not in listed_after
