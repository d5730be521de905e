"""An admin builds a routing rule from the Rules page's dropdowns, puts it first by drag and
drop, moves it with the keyboard buttons, and switches another rule off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from routing.models import SupportFlow
from routing.services import flow_rules_update
from tests.e2e.conftest import save_screenshot
from tests.e2e.test_console_shell import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RULE_NAME = (
    "Portuguese enterprise customers with negative sentiment go to Tier 2 with high priority"
)
REFUNDS = {
    "name": "Refunds",
    "match": "any",
    "conditions": [{"fact": "message", "op": "contains_any", "value": ["refund"]}],
    "action": {"type": "handoff", "queue": "Tier 1", "priority": "normal"},
}


def settled(page: Page) -> None:
    """Wait until htmx has swapped in its answer (a request, a swap or a settle in progress
    marks elements with these classes)."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def condition(page: Page, position: int) -> Locator:
    return page.get_by_role("group", name=f"Condition {position}", exact=True)


def rule_names(page: Page) -> list[str]:
    return [
        re.sub(r"\s+switched off$", "", name.strip())
        for name in page.locator("#rules-list .rule__name").all_inner_texts()
    ]


def test_admin_builds_a_rule_reorders_it_and_switches_another_off(
    admin, workspace, page: Page, live_server_url
):
    flow = workspace.flows.get()
    flow_rules_update(flow=flow, rules=[REFUNDS], expected_revision=flow.draft_revision)
    sign_in(page, live_server_url, admin.email)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Rules").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rules")

    page.get_by_role("link", name="Add a rule").click()
    page.get_by_label("Rule name").fill(RULE_NAME)
    first = condition(page, 1)
    first.get_by_label("Fact").select_option(label="Language")
    settled(page)
    # Choosing the fact brings its comparisons and value input.
    first.get_by_label("Comparison").select_option(label="is")
    first.get_by_label("Value").fill("pt")

    page.get_by_role("button", name="Add condition").click()

    settled(page)
    second = condition(page, 2)
    expect(second.get_by_label("Fact")).to_be_focused()
    second.get_by_label("Fact").select_option(label="Customer plan")
    settled(page)
    second.get_by_label("Comparison").select_option(label="is")
    second.get_by_label("Value").fill("enterprise")

    page.get_by_role("button", name="Add condition").click()

    settled(page)
    third = condition(page, 3)
    third.get_by_label("Fact").select_option(label="Sentiment score")
    settled(page)
    expect(third.get_by_label("Comparison").locator("option")).to_have_text(
        ["is below", "is at most", "is above", "is at least"]
    )
    third.get_by_label("Comparison").select_option(label="is at most")
    third.get_by_label("Number").fill("-0.2")
    settled(page)
    # What was typed in the earlier rows survived the rebuilds.
    expect(first.get_by_label("Value")).to_have_value("pt")
    expect(second.get_by_label("Value")).to_have_value("enterprise")

    page.get_by_label("What happens").select_option(label="Hand off to a queue")
    settled(page)  # the action's fields are swapped in for the chosen kind
    page.get_by_label("Queue").select_option("Tier 2")
    page.get_by_label("Priority").select_option(label="High")
    page.get_by_role("button", name="Save the rule").click()

    expect(page.get_by_role("status").first).to_contain_text(f"Added the rule “{RULE_NAME}”.")
    expect(page.locator("#rule-2")).to_contain_text("language is “pt”")
    expect(page.locator("#rule-2")).to_contain_text("customer plan is “enterprise”")
    expect(page.locator("#rule-2")).to_contain_text("sentiment score is at most -0.2")
    expect(page.locator("#rule-2")).to_contain_text("Hand off to Tier 2 (high priority)")
    assert rule_names(page) == ["Refunds", RULE_NAME]

    # Drag and drop: the new rule goes above "Refunds".
    page.locator("#rule-2").drag_to(page.locator("#rule-1"), target_position={"x": 40, "y": 5})
    expect(page.locator("#rules-region")).to_contain_text("Saved the new order of the rules.")
    expect(page.locator("#rule-1 .rule__name")).to_contain_text(RULE_NAME)
    expect(page.locator("#rule-2 .rule__name")).to_contain_text("Refunds")

    # The keyboard: Move down, then Move up again; the focus follows the rule's buttons.
    ours = page.get_by_role("listitem").filter(has_text=RULE_NAME)
    ours.get_by_role("button", name="Move down").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#rule-2 .rule__name")).to_contain_text(RULE_NAME)
    moved_down = page.locator("#rule-2").get_by_role("button", name="Move up")
    expect(moved_down).to_be_focused()  # it is last now: its other button has the focus
    page.keyboard.press("Enter")
    expect(page.locator("#rule-1 .rule__name")).to_contain_text(RULE_NAME)
    expect(page.locator("#rule-1").get_by_role("button", name="Move down")).to_be_focused()
    expect(page.locator("#rules-announcer")).to_have_text(f"Moved “{RULE_NAME}” to position 1.")

    # Switch the other rule off: it stays in the list, marked.
    refunds = page.get_by_role("listitem").filter(has_text="Refunds")
    refunds.get_by_role("button", name="Switch off").click()
    expect(refunds).to_contain_text("switched off")
    expect(refunds.get_by_role("button", name="Switch on")).to_be_focused()

    saved = SupportFlow.objects.get(pk=flow.pk).rules
    assert [(rule["name"], rule["enabled"]) for rule in saved] == [
        (RULE_NAME, True),
        ("Refunds", False),
    ]
    assert saved[0]["conditions"] == [
        {"fact": "language", "op": "eq", "value": "pt"},
        {"fact": "customer_plan", "op": "eq", "value": "enterprise"},
        {"fact": "sentiment_score", "op": "lte", "value": -0.2},
    ]
    assert saved[0]["action"] == {"type": "handoff", "queue": "Tier 2", "priority": "high"}
    save_screenshot(page, "flow-rules")


def test_a_wrong_value_is_shown_next_to_its_field_and_nothing_typed_is_lost(
    admin, workspace, page: Page, live_server_url
):
    flow = workspace.flows.get()
    sign_in(page, live_server_url, admin.email)
    page.goto(f"{live_server_url}/w/acme/flows/{flow.pk}/rules/new/")
    page.get_by_label("Rule name").fill("Angry customers")
    first = condition(page, 1)
    first.get_by_label("Fact").select_option(label="Sentiment score")
    settled(page)
    first.get_by_label("Number").fill("-5")
    page.get_by_role("button", name="Save the rule").click()

    number = condition(page, 1).get_by_label("Number")
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(number).to_have_accessible_description(re.compile("runs from \u22121 to 1"))
    expect(number).to_have_value("-5")
    expect(page.get_by_label("Rule name")).to_have_value("Angry customers")
    assert SupportFlow.objects.get(pk=flow.pk).rules == []


def test_the_rules_page_fits_a_phone(admin, workspace, browser, live_server_url):
    flow = workspace.flows.get()
    flow_rules_update(flow=flow, rules=[REFUNDS], expected_revision=flow.draft_revision)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live_server_url, admin.email)
        page.goto(f"{live_server_url}/w/acme/flows/{flow.pk}/rules/1/edit/")
        expect(page.get_by_role("heading", name="Edit the rule “Refunds”")).to_be_visible()
        # Nothing is wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.get_by_role("link", name="Cancel").click()
        expect(page.get_by_role("button", name="Switch off")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
