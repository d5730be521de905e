"""A frustrated customer is handed off in the hosted chat; an agent in a second browser sees the
conversation appear live with its brief, claims it, replies and resolves it, and the customer
sees the reply and rates the conversation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from conversations.models import Conversation
from tests.conversations.conftest import confident_flow  # noqa: F401  (a published flow)
from tests.e2e.test_console_shell import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ANGRY = (
    "This is the THIRD time I ask!!! Production is DOWN and we are losing money, I want a human NOW"
)
AGENT_REPLY = "I'm on it: checking your production outage right now."


def new_page(browser: Browser) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def agent_on_the_inbox(browser: Browser, base_url: str, email: str) -> tuple[BrowserContext, Page]:
    context, page = new_page(browser)
    # Told by htmx's ws extension once the inbox's socket is open (and so in the group).
    page.add_init_script(
        "document.addEventListener('htmx:wsOpen', () => { window.liveSocketOpen = true })"
    )
    sign_in(page, base_url, email)
    page.goto(f"{base_url}/w/acme/inbox/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    page.wait_for_function("window.liveSocketOpen === true")
    return context, page


def test_a_frustrated_customer_meets_an_agent_live_and_rates_the_conversation(
    agent,
    synced_source,
    confident_flow,  # noqa: F811
    live_server_url,
    browser: Browser,  # last: the data is prepared before Playwright's event loop runs
):
    agent_context, inbox = agent_on_the_inbox(browser, live_server_url, agent.email)
    customer_context, chat = new_page(browser)
    try:
        # The customer's conversation is made in the server process (over the chat socket), where
        # the channel layer delivers its events to the agent's socket.
        chat.goto(f"{live_server_url}/chat/acme/")
        expect(chat.get_by_text("Connected")).to_be_visible()
        chat.get_by_label("Your message").fill(ANGRY)
        chat.keyboard.press("Enter")
        log = chat.get_by_role("log", name="Conversation")
        expect(log).to_contain_text("passing you to a member of our team", timeout=60_000)

        inbox.evaluate("window.stillTheSamePage = true")
        row = inbox.get_by_role("row").filter(has_text="Production is DOWN")
        expect(row).to_contain_text("Waiting for an agent")
        assert inbox.evaluate("window.stillTheSamePage") is True  # pushed, not reloaded

        row.get_by_role("link").first.click()
        brief = inbox.get_by_role("region", name="Handoff brief")
        expect(brief).to_contain_text("Production is DOWN")
        inbox.get_by_role("button", name="Claim").click()
        expect(inbox.get_by_test_id("conversation-state")).to_contain_text("Assigned to Andy Agent")
        expect(log).to_contain_text("Andy Agent joined the conversation.")

        inbox.get_by_role("textbox", name="Reply").fill(AGENT_REPLY)
        inbox.get_by_role("button", name="Send").click()
        expect(log).to_contain_text(AGENT_REPLY)

        inbox.get_by_role("button", name="Resolve").click()
        expect(log).to_contain_text("This conversation was resolved.")
        chat.get_by_role("button", name="Rate 5 out of 5").click()
        expect(log).to_contain_text("Thank you for your rating!")

        conversation = Conversation.objects.get()
        assert (conversation.status, conversation.csat_rating) == ("resolved", 5)
    finally:
        customer_context.close()
        agent_context.close()
