"""An admin tests a flow's draft against saved questions, publishes it and rolls it back, and
exports the flow as YAML and imports an edited copy, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from routing.question_set import question_save
from routing.services import flow_publish, flow_rules_update, flow_settings_update
from tests.e2e.conftest import save_screenshot
from tests.e2e.test_console_shell import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REFUND_RULE = {
    "name": "Refunds go to tier 2",
    "match": "any",
    "conditions": [{"fact": "message", "op": "contains_any", "value": ["refund"]}],
    "action": {"type": "handoff", "queue": "Tier 2", "priority": "urgent"},
}


def set_threshold(flow, value: float):
    flow.refresh_from_db()
    return flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": value},
        expected_revision=flow.draft_revision,
    )


def fits_a_phone(page: Page) -> bool:
    page.set_viewport_size({"width": 390, "height": 844})
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 800})
    return bool(fits)


def open_tab(page: Page, base_url: str, flow, tab: str) -> None:
    page.goto(f"{base_url}/w/acme/flows/{flow.pk}/")
    page.get_by_role("navigation", name=flow.name).get_by_role("link", name=tab).click()


def test_admin_adds_a_question_runs_the_set_and_sees_draft_and_published_side_by_side(
    synced_source, admin, workspace, page: Page, live_server_url
):
    flow = workspace.flows.get()
    # Published: confident enough for the tiny help center. Draft: far stricter.
    flow_publish(flow=set_threshold(flow, 0.4), published_by=admin)
    set_threshold(flow, 0.99)
    sign_in(page, live_server_url, admin.email)
    open_tab(page, live_server_url, flow, "Test questions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Test questions")

    page.get_by_role("link", name="Add a test question").click()
    page.get_by_label("Name", exact=True).fill("reset-link")
    page.get_by_label("Customer messages").fill("How long is the password reset link valid?")
    page.get_by_label("Plan (optional)").fill("team")
    page.get_by_label("Expected outcome").select_option(label="The AI answers")
    page.get_by_label("Find an article").fill("en/reset-password.md")
    page.get_by_role("button", name="Add to expected articles").click()
    expect(page.get_by_label("Expected articles (answers only)")).to_have_value(
        "en/reset-password.md"
    )
    page.get_by_role("button", name="Add the question").click()

    expect(page.get_by_role("status").first).to_contain_text(
        "Added the test question “reset-link”."
    )
    saved = page.get_by_role("table", name="Saved test questions of Acme")
    expect(saved).to_contain_text("How long is the password reset link valid?")
    expect(saved).to_contain_text("The AI answers citing en/reset-password.md first")

    page.get_by_role("button", name="Run against draft and published").click()
    # The first run loads the models in the server: allow it a little longer.
    summary = page.get_by_role("heading", name=re.compile("^Draft: "))
    expect(summary).to_have_text(
        "Draft: 0 of 1 pass · published: 1 of 1 pass · 1 changed", timeout=30_000
    )
    expect(summary).to_be_focused()  # where a keyboard user continues after the run
    results = page.get_by_role("table", name=re.compile("on the draft and on the published"))
    row = results.get_by_role("row").filter(has_text="reset-link")
    expect(row.get_by_test_id("draft-verdict")).to_have_text("✗ Failed")
    expect(row).to_contain_text("Expected answer, got handoff")
    expect(row.get_by_test_id("published-verdict")).to_have_text("✓ Passed")
    expect(row).to_contain_text("Cites en/reset-password.md first")
    expect(row.get_by_test_id("changed")).to_have_text("Changed")
    expect(page.locator("#run-status")).to_have_text("Done. Draft: 0 of 1 pass.")
    save_screenshot(page, "flow-tests")
    assert fits_a_phone(page)


def test_admin_reviews_the_diff_publishes_past_a_failing_question_and_rolls_back(
    admin, workspace, page: Page, live_server_url
):
    flow = set_threshold(workspace.flows.get(), 0.62)
    flow_rules_update(flow=flow, rules=[REFUND_RULE], expected_revision=flow.draft_revision)
    # With no knowledge at all the AI cannot answer, so this question fails on the draft.
    question_save(
        workspace=workspace,
        data={"name": "billing", "turns": ["Where is my invoice?"], "expected_outcome": "answer"},
        by=admin,
    )
    sign_in(page, live_server_url, admin.email)
    open_tab(page, live_server_url, flow, "Publish & history")

    changes = page.get_by_role("region", name="Changes since version 1")
    expect(changes.get_by_role("row", name=re.compile("Confidence threshold"))).to_contain_text(
        "0.62"
    )
    expect(changes.get_by_role("row", name=re.compile("Refunds go to tier 2"))).to_contain_text(
        "Then: Hand off to Tier 2 (urgent priority)"
    )
    page.get_by_role("button", name="Check the test questions").click()
    checked = page.get_by_role("heading", name="1 of 1 test question fails on the draft")
    expect(checked).to_be_visible(timeout=30_000)
    save_screenshot(page, "flow-publish")

    page.get_by_label("Note (optional)").fill("Stricter answers, refunds to tier 2")
    page.get_by_role("button", name="Publish version 2").click()
    # Not confirmed: refused, and the note is kept.
    expect(page.get_by_role("alert").filter(has_text="fails on this draft")).to_be_visible(
        timeout=30_000
    )
    expect(page.get_by_label("Note (optional)")).to_have_value(
        "Stricter answers, refunds to tier 2"
    )
    page.get_by_label("Publish although 1 test question fails").check()
    page.get_by_role("button", name="Publish version 2").click()

    expect(page.get_by_role("status").first).to_contain_text("Published version 2.", timeout=30_000)
    history = page.get_by_role("table", name=re.compile("Published versions"))
    expect(history.get_by_role("row", name=re.compile("^2 live"))).to_contain_text(
        "Stricter answers, refunds to tier 2"
    )
    expect(page.get_by_test_id("nothing-to-publish")).to_be_visible()

    history.get_by_text("Roll back to version 1…").click()
    history.get_by_role("button", name="Roll back now").click()

    expect(page.get_by_role("status").first).to_contain_text(
        "Rolled back to version 1: it is live again as version 3"
    )
    expect(history.get_by_role("row", name=re.compile("^3 live"))).to_contain_text(
        "Rollback to version 1"
    )
    flow.refresh_from_db()
    assert flow.settings["confidence_threshold"] == 0.5 and flow.rules == []
    assert fits_a_phone(page)


def test_admin_exports_the_flow_edits_it_imports_it_and_sees_a_broken_line_named(
    admin, workspace, page: Page, live_server_url
):
    flow = workspace.flows.get()
    sign_in(page, live_server_url, admin.email)
    open_tab(page, live_server_url, flow, "Export / import")
    expect(page.get_by_role("heading", level=1)).to_have_text("Export and import")
    expect(page.get_by_role("link", name="Download default-flow.yaml")).to_be_visible()
    editor = page.get_by_label("Flow as YAML")
    exported = editor.input_value()
    assert "  max_ai_turns: 4\n" in exported
    save_screenshot(page, "flow-export")

    editor.fill(exported.replace("  max_ai_turns: 4\n", "  max_ai_turns: 6\n"))
    page.get_by_role("button", name="Import into the draft").click()

    expect(page.get_by_role("status")).to_contain_text("Imported into the draft: 1 change.")
    expect(page.get_by_role("row", name=re.compile("Max AI turns"))).to_contain_text("6")
    expect(page.get_by_label("Flow as YAML")).to_have_value(re.compile(r"  max_ai_turns: 6\n"))
    flow.refresh_from_db()
    assert flow.settings["max_ai_turns"] == 6

    broken = "settings:\n  confidence_threshold: 0.5\n  languages: [en, pt\n"
    page.get_by_label("Flow as YAML").fill(broken)
    page.get_by_role("button", name="Import into the draft").click()

    problems = page.get_by_test_id("yaml-problems")
    expect(problems).to_contain_text(re.compile(r"line 4: not valid YAML"))
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was imported")
    expect(page.get_by_label("Flow as YAML")).to_have_value(broken)
    problems.get_by_role("link", name="line 4").click()
    expect(page.get_by_label("Flow as YAML")).to_be_focused()
    flow.refresh_from_db()
    assert flow.settings["max_ai_turns"] == 6
    assert fits_a_phone(page)
