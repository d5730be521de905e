"""AI actions with a human approval, in real browsers against the real server.

A customer asks for a refund in the hosted chat; the AI requests it and the customer sees it
waiting; a tier-2 agent approves it in the inbox; the company's backend (a real HTTP server in
this test process, called by the server process over TCP) gets one correctly signed webhook; the
customer sees it done without reloading. And a tier-1 agent cannot approve a destructive action,
neither with the page's button (there is none) nor with a forged POST; when an admin approves
it, the tier-1 agent's open page shows it done.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from console.models import Role, User
from console.services import membership_set
from conversations.action_requests import action_request_create
from conversations.models import ActionRequest, ActionRequestStatus
from conversations.services import conversation_start
from routing.actions import (
    action_approval_policy_update,
    action_templates_install,
    action_update,
    action_webhook_secret_get_or_create,
)
from routing.models import ActionRisk
from routing.webhooks import webhook_verify
from tests.conftest import make_user
from tests.conversations.conftest import confident_flow  # noqa: F401  (a published flow)
from tests.e2e.test_console_shell import sign_in
from tests.e2e.test_handoff_live import agent_on_the_inbox, new_page
from tests.routing.conftest import fake_backend  # noqa: F401  (the company's backend)
from tests.routing.fake_backend import FakeBackend

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Matches the refund action's example phrasing "I want a refund", names the currency, and asks
# for a person, so the conversation lands in the agents' inbox.
REFUND_ASK = "I was charged twice in EUR this month, please refund me. I want to talk to a person."
WAITING = "Your refund request is waiting for approval by our team."
DONE = "Done: your refund was issued."

# Installed before the chat page's own script: keeps every typed `action` frame the server sends,
# so the test can wait for one without depending on how the page draws it.
RECORD_ACTION_FRAMES = """
window.actionFrames = [];
const PageWebSocket = window.WebSocket;
window.WebSocket = class extends PageWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "action") window.actionFrames.push(frame);
    });
  }
};
"""


@pytest.fixture
def senior(workspace) -> User:
    """A tier-2 agent: by default allowed to approve write actions such as a refund."""
    user = make_user("senior@acme.example", "Sam Senior")
    membership_set(workspace=workspace, user=user, role=Role.AGENT, tier=2)
    return user


@pytest.fixture
def actions_enabled(workspace, fake_backend):  # noqa: F811
    """The built-in templates, calling the fake backend, enabled as installed (refunds after an
    agent approves; destructive ones only after an admin or a tier-2 agent does)."""
    action_approval_policy_update(
        workspace=workspace, risk=ActionRisk.DESTRUCTIVE, approvers=["admin", "agent:2"]
    )
    return {
        action.key: action_update(
            action=action, changes={"webhook_url": fake_backend.url, "enabled": True}
        )
        for action in action_templates_install(workspace=workspace).actions
    }


@pytest.fixture
def pending_deletion(workspace, actions_enabled) -> ActionRequest:
    """A conversation where the AI asked to delete the customer's account, waiting for approval.
    Made before the browser starts: outside the server process nobody is listening anyway."""
    conversation = conversation_start(workspace=workspace, customer_data={"name": "Dana"})
    return action_request_create(
        conversation=conversation,
        action=actions_enabled["delete_account"],
        parameters={"reason": "Moving to another tool"},
        requested_by_ai=True,
    )


def customer_on_the_chat(browser: Browser, base_url: str) -> tuple[BrowserContext, Page]:
    context, page = new_page(browser)
    page.add_init_script(RECORD_ACTION_FRAMES)
    page.goto(f"{base_url}/chat/acme/")
    expect(page.get_by_text("Connected")).to_be_visible()
    return context, page


def action_statuses(page: Page) -> list[str]:
    return page.evaluate("window.actionFrames.map((frame) => frame.action.status)")


def test_an_agent_approves_a_refund_the_ai_requested_and_the_customer_sees_it_done(
    workspace,
    senior,
    synced_source,
    confident_flow,  # noqa: F811
    actions_enabled,
    fake_backend: FakeBackend,  # noqa: F811
    live_server_url,
    browser: Browser,  # last: the data is prepared before Playwright's event loop runs
):
    agent_context, inbox = agent_on_the_inbox(browser, live_server_url, senior.email)
    customer_context, chat = customer_on_the_chat(browser, live_server_url)
    try:
        chat.get_by_label("Your message").fill(REFUND_ASK)
        chat.keyboard.press("Enter")
        log = chat.get_by_role("log", name="Conversation")
        # The first reply loads the models in the server: allow it a little longer.
        expect(log).to_contain_text(WAITING, timeout=60_000)
        chat.wait_for_function("window.actionFrames.length >= 1")
        assert chat.evaluate("window.actionFrames[0].action") == {
            "id": ActionRequest.objects.get().pk,
            "name": "Refund request",
            "status": "pending",
        }
        requests = chat.get_by_role("list", name="Your requests")
        expect(requests).to_have_text("Refund request: waiting for approval")
        chat.evaluate("window.stillTheSamePage = true")

        row = inbox.get_by_role("row").filter(has_text="please refund me")
        row.get_by_role("link").first.click()
        request = inbox.get_by_role("article", name="Issue refund")
        expect(request.get_by_test_id("action-request-status")).to_have_text("Waiting for approval")
        expect(request).to_contain_text("Still to fill in: amount")
        parameters = request.get_by_label("Parameters (JSON)")
        given = json.loads(parameters.input_value())
        assert given == {"currency": "EUR", "reason": REFUND_ASK}  # what the AI could tell
        parameters.fill(json.dumps({**given, "amount": 20}))
        request.get_by_role("button", name="Approve").click()

        request = inbox.get_by_role("article", name="Issue refund")
        # The webhook runs after the approval commits: under load it can take a few seconds.
        expect(request.get_by_test_id("action-request-status")).to_have_text("Done", timeout=20_000)
        expect(request.get_by_role("button", name="Approve")).to_have_count(0)

        expect(log).to_contain_text(DONE)
        expect(requests).to_have_text("Refund request: done")
        chat.wait_for_function("window.actionFrames.length >= 3")
        assert action_statuses(chat) == ["pending", "approved", "executed"]
        assert chat.evaluate("window.stillTheSamePage") is True  # pushed, not reloaded

        (received,) = fake_backend.received
        secret = action_webhook_secret_get_or_create(workspace=workspace).secret
        assert webhook_verify(secret, received.headers["x-support-signature"], received.body)
        sent = json.loads(received.body)
        assert sent["action"] == "issue_refund"
        assert sent["data"]["parameters"] == {"amount": 20, "currency": "EUR", "reason": REFUND_ASK}
        approved = ActionRequest.objects.get()
        assert received.headers["idempotency-key"] == str(approved.idempotency_key)
        assert approved.status == ActionRequestStatus.EXECUTED
        assert approved.events.get(status="approved").actor == senior
    finally:
        customer_context.close()
        agent_context.close()


def test_a_tier1_agent_cannot_approve_a_destructive_action_and_sees_it_done_by_an_admin(
    agent,
    admin,
    pending_deletion: ActionRequest,
    fake_backend: FakeBackend,  # noqa: F811
    live_server_url,
    browser: Browser,  # last: the data is prepared before Playwright's event loop runs
):
    conversation_url = f"{live_server_url}/w/acme/inbox/{pending_deletion.conversation_id}/"
    agent_context, tier1 = agent_on_the_inbox(browser, live_server_url, agent.email)
    admin_context, boss = new_page(browser)
    try:
        tier1.goto(conversation_url)
        tier1.wait_for_function("window.liveSocketOpen === true")
        pending = tier1.get_by_role("article", name="Delete account")
        expect(pending.get_by_test_id("action-request-status")).to_have_text("Waiting for approval")
        expect(pending).to_contain_text("Waiting for approval by admins and tier-2 agents.")
        expect(pending.get_by_role("button", name="Approve")).to_have_count(0)
        expect(pending.get_by_role("button", name="Reject")).to_have_count(0)

        # The agent knows the URL and has a valid CSRF token from the page: the server says no.
        forged = tier1.evaluate(
            """async (url) => {
                const token = document.querySelector("input[name=csrfmiddlewaretoken]").value;
                const body = new URLSearchParams({csrfmiddlewaretoken: token, parameters: ""});
                const response = await fetch(url, {method: "POST", body});
                return {status: response.status, text: await response.text()};
            }""",
            f"{conversation_url}action-requests/{pending_deletion.pk}/approve/",
        )
        assert forged["status"] == 400
        assert "Only admins and tier-2 agents may approve destructive actions" in forged["text"]
        assert ActionRequest.objects.get().status == ActionRequestStatus.PENDING
        assert not ActionRequest.objects.get().events.filter(status="approved").exists()
        assert fake_backend.received == []

        tier1.evaluate("window.stillTheSamePage = true")
        sign_in(boss, live_server_url, admin.email)
        boss.goto(conversation_url)
        boss.get_by_role("article", name="Delete account").get_by_role(
            "button", name="Approve"
        ).click()
        expect(
            boss.get_by_role("article", name="Delete account").get_by_test_id(
                "action-request-status"
            )
        ).to_have_text("Done", timeout=20_000)  # the webhook runs after the approval commits

        # The tier-1 agent's open page follows without a reload.
        done = tier1.get_by_role("article", name="Delete account")
        expect(done.get_by_test_id("action-request-status")).to_have_text("Done", timeout=20_000)
        expect(done).not_to_contain_text("Waiting for approval by")
        assert tier1.evaluate("window.stillTheSamePage") is True
        assert len(fake_backend.received) == 1
        assert ActionRequest.objects.get().events.get(status="approved").actor == admin
    finally:
        admin_context.close()
        agent_context.close()
