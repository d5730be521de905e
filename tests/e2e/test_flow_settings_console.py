"""An admin edits a flow's stages in place on its overview, and its guardrail prompt with the
live preview of what the LLM would receive."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import save_screenshot
from tests.e2e.test_console_shell import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_edits_the_sentiment_stage_in_place_and_sees_the_card_update(
    admin, workspace, page: Page, live_server_url
):
    flow = workspace.flows.get()
    sign_in(page, live_server_url, admin.email)
    page.goto(f"{live_server_url}/w/acme/flows/{flow.pk}/")
    page.evaluate("window.stillTheSamePage = true")
    sentiment = page.locator("#stage-sentiment")
    expect(sentiment.get_by_test_id("escalate-at")).to_have_text("-0.5 or below")

    sentiment.get_by_role("link", name="Edit sentiment").click()
    escalate = sentiment.get_by_label("Escalate at")
    expect(escalate).to_be_focused()
    escalate.fill("-0.3")
    sentiment.get_by_label("High priority at").fill("-0.1")  # above the escalation threshold
    sentiment.get_by_role("button", name="Save sentiment").click()

    high = sentiment.get_by_label("High priority at")
    expect(sentiment.get_by_role("alert")).to_contain_text(
        "High priority must be at or below the escalation threshold (-0.3)"
    )
    expect(high).to_have_value("-0.1")  # kept as typed
    expect(high).to_be_focused()
    high.fill("-0.6")
    sentiment.get_by_label("Max AI turns").fill("6")
    sentiment.get_by_role("button", name="Save sentiment").click()

    expect(sentiment.get_by_test_id("escalate-at")).to_have_text("-0.3 or below")
    expect(sentiment.get_by_test_id("high-priority-at")).to_have_text("-0.6 or below")
    expect(sentiment.get_by_test_id("max-ai-turns")).to_contain_text("6")
    expect(page.get_by_role("status")).to_have_text(
        "Saved the sentiment settings: the draft is at revision 2."
    )
    expect(page.get_by_test_id("draft-revision")).to_have_text("2")
    expect(page.locator("#draft-state")).to_contain_text("unpublished changes")
    expect(sentiment.get_by_role("link", name="Edit sentiment")).to_be_focused()
    assert page.evaluate("window.stillTheSamePage") is True  # swapped in place, not reloaded
    flow.refresh_from_db()
    assert (flow.settings["sentiment_escalate_at"], flow.settings["max_ai_turns"]) == (-0.3, 6)

    # Two stages open at once: saving one keeps the other saveable; Cancel restores a card.
    confidence, language = page.locator("#stage-confidence"), page.locator("#stage-language")
    confidence.get_by_role("link", name="Edit confidence").click()
    language.get_by_role("link", name="Edit language").click()
    confidence.get_by_label("Confidence threshold").fill("0.42")
    confidence.get_by_role("button", name="Save confidence").click()
    expect(confidence.get_by_test_id("confidence-threshold")).to_have_text("0.42")
    language.get_by_label("German").uncheck()
    language.get_by_role("button", name="Save language").click()
    expect(language).to_contain_text("English (default), Portuguese, Spanish, French")
    expect(language).not_to_contain_text("German")
    page.locator("#stage-answer").get_by_role("link", name="Edit answer").click()
    page.locator("#stage-answer").get_by_role("link", name="Cancel").click()
    expect(page.locator("#stage-answer").get_by_test_id("generator")).to_contain_text(
        "Grounded composer"
    )
    save_screenshot(page, "flow-overview")


def test_admin_edits_the_guardrail_prompt_and_sees_the_preview_change(
    synced_source, admin, workspace, page: Page, live_server_url
):
    flow = workspace.flows.get()
    sign_in(page, live_server_url, admin.email)
    page.goto(f"{live_server_url}/w/acme/flows/{flow.pk}/")
    page.get_by_role("navigation", name="Default flow").get_by_role(
        "link", name="Guardrails"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Guardrails")
    system = page.get_by_test_id("system-message")
    # The first preview loads the models in the server: allow it a little longer.
    expect(system).to_contain_text("You are the support assistant of Acme.", timeout=30_000)
    expect(page.get_by_test_id("user-message")).to_contain_text("valid for 30 minutes")

    prompt = page.get_by_label("Guardrail prompt")
    prompt.fill("You answer for {company} in {language}, and {plan} customers first.")
    expect(page.locator("#prompt-preview")).to_contain_text(
        "Unknown variable {plan}: the prompt may use only {company} and {language}."
    )
    prompt.fill("You answer for {company} in {language}. Be brief.")
    expect(system).to_contain_text("You answer for Acme in English. Be brief.")
    expect(page.get_by_text("49 of 8000 characters")).to_be_visible()
    page.get_by_label("Customer's language").select_option(label="Portuguese")
    expect(system).to_contain_text("You answer for Acme in Portuguese. Be brief.")
    expect(page.get_by_role("status")).to_have_text(
        re.compile(r"Preview updated: in Portuguese, \d+ passages\.")
    )
    page.get_by_label("Handoff message in Portuguese").fill("Vou passar você para a equipe.")
    save_screenshot(page, "flow-guardrails")

    page.get_by_role("button", name="Save guardrails").click()

    expect(page.get_by_role("status").first).to_contain_text(
        "Saved the guardrails: the draft is at revision 2."
    )
    expect(prompt).to_have_value("You answer for {company} in {language}. Be brief.")
    flow.refresh_from_db()
    assert flow.settings["handoff_messages"]["pt"] == "Vou passar você para a equipe."


def test_the_diagram_stacks_on_a_phone_without_scrolling_sideways(
    browser, live_server_url, admin, workspace
):
    flow = workspace.flows.get()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server_url, admin.email)
        for path in ["", "guardrails/", "stages/answer/edit/"]:
            page.goto(f"{live_server_url}/w/acme/flows/{flow.pk}/{path}")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"/{path} scrolls sideways by {overflow}px on a phone"
        page.goto(f"{live_server_url}/w/acme/flows/{flow.pk}/")
        boxes = [
            page.locator(f"#stage-{stage} .stage__card").bounding_box()
            for stage in ("language", "sentiment", "rules", "answer", "handoff")
        ]
        assert all(box is not None for box in boxes)
        lefts = {round(box["x"]) for box in boxes if box}
        tops = [box["y"] for box in boxes if box]
        assert len(lefts) == 1, "the stages sit one under another"
        assert tops == sorted(tops)
    finally:
        context.close()
