"""The issue's whole story in a browser: an admin builds a rule that sends Portuguese-speaking
enterprise customers with negative sentiment to Tier 2 with high priority, checks it in the
simulator, adds a test question for it, publishes, and a real customer's chat message follows it."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, expect

from conversations.models import Conversation
from conversations.tokens import identity_signature
from routing.actions import action_webhook_secret_get_or_create
from tests.e2e.conftest import save_screenshot
from tests.e2e.test_console_shell import sign_in
from tests.e2e.test_flow_rules_console import condition, settled

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RULE = "Portuguese enterprise customers, negative, to Tier 2"
ANGRY_PT = "Isso é um absurdo! Já pedi três vezes e ninguém resolve, vou cancelar tudo."


def open_tab(page: Page, flow_name: str, tab: str) -> None:
    page.get_by_role("navigation", name=flow_name).get_by_role("link", name=tab).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile(tab.split(" ")[0]))


def test_a_rule_built_in_the_console_routes_a_real_chat_after_publishing(
    admin, workspace, synced_source, browser: Browser, page: Page, live_server_url
):
    flow = workspace.flows.get()
    sign_in(page, live_server_url, admin.email)

    # 1. The rule, from the dropdowns of the Rules page.
    page.goto(f"{live_server_url}/w/{workspace.slug}/flows/{flow.pk}/rules/")
    page.get_by_role("link", name="Add a rule").click()
    page.get_by_label("Rule name").fill(RULE)
    first = condition(page, 1)
    first.get_by_label("Fact").select_option(label="Language")
    settled(page)
    first.get_by_label("Comparison").select_option(label="is")
    first.get_by_label("Value").fill("pt")
    page.get_by_role("button", name="Add condition").click()
    settled(page)
    second = condition(page, 2)
    second.get_by_label("Fact").select_option(label="Customer plan")
    settled(page)
    second.get_by_label("Comparison").select_option(label="is")
    second.get_by_label("Value").fill("enterprise")
    page.get_by_role("button", name="Add condition").click()
    settled(page)
    third = condition(page, 3)
    third.get_by_label("Fact").select_option(label="Sentiment score")
    settled(page)
    third.get_by_label("Comparison").select_option(label="is at most")
    third.get_by_label("Number").fill("-0.2")
    settled(page)
    page.get_by_label("What happens").select_option(label="Hand off to a queue")
    settled(page)  # the action's fields are swapped in for the chosen kind
    page.get_by_label("Queue").select_option("Tier 2")
    page.get_by_label("Priority").select_option(label="High")
    page.get_by_role("button", name="Save the rule").click()
    expect(page.locator("main")).to_contain_text(f"Added the rule “{RULE}”.", timeout=15_000)

    # 2. The simulator: the draft sends such a customer to Tier 2 with high priority.
    open_tab(page, flow.name, "Simulator")
    page.get_by_label("Customer message").fill(ANGRY_PT)
    page.get_by_label("Customer plan (optional)").fill("enterprise")
    page.get_by_role("button", name="Simulate").click()
    result = page.get_by_role("region", name="Simulation result")
    expect(result.get_by_test_id("outcome")).to_have_text("Handed off", timeout=30_000)
    expect(result.get_by_test_id("fired-rule")).to_contain_text(f"Rule “{RULE}” fired")
    expect(result).to_contain_text("Tier 2")
    expect(result).to_contain_text("high")

    # 3. A test question that pins it down.
    open_tab(page, flow.name, "Test questions")
    page.get_by_role("link", name="Add a test question").click()
    page.get_by_label("Name", exact=True).fill("pt-enterprise-angry")
    page.get_by_label("Customer messages").fill(ANGRY_PT)
    page.get_by_label("Plan (optional)").fill("enterprise")
    page.get_by_label("Expected outcome").select_option(label="The AI hands off to a person")
    page.get_by_label("Expected handoff reason (handoffs only)").select_option("rule")
    page.get_by_label("Expected priority (handoffs only)").select_option("high")
    page.get_by_role("button", name="Add the question").click()
    expect(page.locator("main")).to_contain_text(
        "Added the test question “pt-enterprise-angry”.", timeout=15_000
    )

    # 4. Publish: the question passes on the draft, so no confirmation is needed.
    open_tab(page, flow.name, "Publish & history")
    page.get_by_role("button", name="Check the test questions").click()
    expect(page.get_by_role("heading", name=re.compile("pass"))).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Publish version 2").click()
    expect(page.get_by_role("status").first).to_contain_text("Published version 2.", timeout=30_000)
    save_screenshot(page, "scenario-published")

    # 5. A verified enterprise customer writes in Portuguese, angry: Tier 2, high priority.
    secret = action_webhook_secret_get_or_create(workspace=workspace).secret
    identity = {
        "user_id": "u-77",
        "user_hash": identity_signature(secret=secret, user_id="u-77"),
        "name": "Marta",
        "plan": "enterprise",
    }
    customer = browser.new_context(viewport={"width": 390, "height": 844})
    chat = customer.new_page()
    chat.set_default_timeout(10_000)
    try:
        chat.goto(f"{live_server_url}/chat/{workspace.slug}/?{urlencode(identity)}")
        expect(chat.get_by_text("Connected")).to_be_visible()
        chat.get_by_label("Your message").fill(ANGRY_PT)
        chat.keyboard.press("Enter")
        log = chat.get_by_role("log", name="Conversation")
        expect(log).to_contain_text(
            "Vou transferir você para alguém da nossa equipe", timeout=60_000
        )
    finally:
        customer.close()

    conversation = Conversation.objects.select_related("queue").get(customer__external_id="u-77")
    assert conversation.queue is not None and conversation.flow_version is not None
    assert (conversation.status, conversation.queue.name, conversation.priority) == (
        "waiting",
        "Tier 2",
        "high",
    )
    assert conversation.flow_version.number == 2
