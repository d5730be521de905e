"""An agent works the inbox in a browser: a handoff appears live, they read the brief, claim
the conversation and reply."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from console.services import api_key_create
from conversations.models import Message, MessageKind, Sender
from tests.e2e.test_console_shell import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class CustomerBackend:
    """The company's backend speaking to the server's REST API with a workspace key.

    The customer's side runs in the server process (through the API, which calls the same
    services), not in this test process: without Redis the channel layer lives in one process,
    and the handoff must be broadcast where the agent's socket is.
    """

    def __init__(self, base_url: str, workspace) -> None:
        self.base_url = base_url
        self.key = api_key_create(workspace=workspace, name="backend").raw_key

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self.base_url}/api/v1/{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


def test_a_handoff_appears_live_and_the_agent_claims_and_replies(
    page: Page, live_server_url, agent, workspace
):
    backend = CustomerBackend(live_server_url, workspace)
    # Told by htmx's ws extension once the inbox's socket is open (and so in the group).
    page.add_init_script(
        "document.addEventListener('htmx:wsOpen', () => { window.liveSocketOpen = true })"
    )
    sign_in(page, live_server_url, agent.email)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    expect(
        page.get_by_role("cell", name="No conversation needs a human right now.")
    ).to_be_visible()
    page.wait_for_function("window.liveSocketOpen === true")
    page.evaluate("window.stillTheSamePage = true")

    conversation = backend.post(
        "conversations/",
        {"customer": {"external_id": "u-7", "name": "Ana Souza", "plan": "Pro"}},
    )
    backend.post(
        f"conversations/{conversation['id']}/messages/",
        {"text": "My export keeps failing. I want to talk to a human", "client_id": "c-1"},
    )

    row = page.get_by_role("row").filter(has_text="Ana Souza")
    expect(row).to_contain_text("My export keeps failing.")
    expect(row).to_contain_text("Waiting for an agent")
    expect(row).to_contain_text("Unassigned")
    expect(page.get_by_role("cell", name="No conversation needs a human right now.")).to_have_count(
        0
    )
    assert page.evaluate("window.stillTheSamePage") is True  # pushed, not reloaded

    row.get_by_role("link", name="Ana Souza").click()
    brief = page.get_by_role("region", name="Handoff brief")
    expect(brief).to_contain_text("My export keeps failing.")
    expect(brief).to_contain_text("The customer asked for a human")
    expect(brief.get_by_test_id("suggested-reply")).to_contain_text("Hi Ana,")

    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_test_id("conversation-state")).to_contain_text("Assigned to Andy Agent")
    expect(page.get_by_role("button", name="Claim")).to_have_count(0)

    page.get_by_role("button", name="Use suggested reply").click()
    composer = page.get_by_role("textbox", name="Reply")
    expect(composer).to_have_value(brief.get_by_test_id("suggested-reply").inner_text().strip())
    composer.fill("Hi Ana, I'm looking at your export now.")
    page.get_by_role("button", name="Send").click()
    expect(composer).to_have_value("")  # the conversation's page again, after the post

    transcript = page.get_by_role("region", name="Transcript")
    expect(transcript).to_contain_text("Hi Ana, I'm looking at your export now.")
    reply = Message.objects.filter(conversation_id=conversation["id"], sender=Sender.AGENT).get()
    assert (reply.kind, reply.text, reply.author_id) == (
        MessageKind.TEXT,
        "Hi Ana, I'm looking at your export now.",
        agent.pk,
    )

    # The customer answers: it is pushed into the open conversation, no reload.
    page.wait_for_function("window.liveSocketOpen === true")
    page.evaluate("window.stillTheSamePage = true")
    backend.post(
        f"conversations/{conversation['id']}/messages/",
        {"text": "Thanks, it is the March report.", "client_id": "c-2"},
    )
    expect(transcript.get_by_role("listitem").last).to_contain_text(
        "Thanks, it is the March report."
    )
    assert page.evaluate("window.stillTheSamePage") is True
