"""An admin moves the confidence slider and sees the calibration change before saving; an agent
runs a multi-turn simulation with the customer's details."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from routing.question_set import question_save
from tests.e2e.conftest import save_screenshot
from tests.e2e.test_console_shell import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_moving_the_confidence_slider_shows_the_trade_off_live_and_saving_keeps_it(
    synced_source, admin, workspace, page: Page, live_server_url
):
    question_save(
        workspace=workspace,
        data={
            "name": "reset link",
            "turns": ["How long is the password reset link valid?"],
            "expected_outcome": "answer",
            "expected_articles": ["en/reset-password.md"],
        },
        by=admin,
    )
    flow = workspace.flows.get()
    sign_in(page, live_server_url, admin.email)
    page.goto(f"{live_server_url}/w/{workspace.slug}/flows/{flow.pk}/thresholds/")
    summary = page.get_by_test_id("calibration-summary")
    expect(summary).to_contain_text("At confidence 0.50", timeout=30_000)
    before = summary.inner_text()

    # The keyboard moves a slider as well as a mouse: End takes it to 1.00.
    slider = page.get_by_label("Confidence threshold")
    slider.focus()
    page.keyboard.press("End")

    expect(summary).to_contain_text("At confidence 1.00")
    expect(summary).to_contain_text("0 answered")
    expect(summary).to_contain_text("1 missed answer")
    assert summary.inner_text() != before
    expect(page.locator("#id_confidence_threshold_value")).to_have_text("1")
    # Screen readers hear the summary, not the table.
    expect(page.get_by_role("status").filter(has_text="At confidence 1.00")).to_have_count(1)

    page.keyboard.press("Home")
    for _ in range(40):  # 0.00 -> 0.40 in steps of 0.01
        page.keyboard.press("ArrowRight")
    expect(summary).to_contain_text("At confidence 0.40")
    expect(summary).to_contain_text("1 of 1 right")
    save_screenshot(page, "flow-thresholds")

    page.get_by_role("button", name="Save thresholds to the draft").click()
    expect(page.get_by_role("status").filter(has_text="Thresholds saved")).to_be_visible()
    flow.refresh_from_db()
    assert flow.settings["confidence_threshold"] == 0.4
    expect(page.get_by_label("Confidence threshold")).to_have_value("0.4")


def test_an_agent_simulates_several_turns_with_the_customers_details(
    synced_source, agent, workspace, page: Page, live_server_url
):
    flow = workspace.flows.get()
    sign_in(page, live_server_url, agent.email)
    page.goto(f"{live_server_url}/w/{workspace.slug}/flows/{flow.pk}/")
    page.get_by_role("navigation", name=flow.name).get_by_role("link", name="Simulator").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Simulator")

    page.get_by_label("Customer message").fill("I already asked twice, can I talk to a person?")
    page.get_by_label("Earlier messages (optional)").fill(
        "Where do I download invoices?\nWhere do I download invoices??"
    )
    page.get_by_label("Customer plan (optional)").fill("enterprise")
    page.get_by_label("Customer attributes (optional)").fill("company_size=250")
    page.get_by_role("button", name="Simulate").click()

    result = page.get_by_role("region", name="Simulation result")
    expect(result.get_by_test_id("outcome")).to_have_text("Handed off", timeout=30_000)
    expect(result.get_by_test_id("simulated-brief")).to_contain_text("person")
    expect(result.get_by_role("table", name="Facts the rules saw")).to_contain_text("enterprise")
    expect(result.get_by_role("table", name="Facts the rules saw")).to_contain_text(
        re.compile("company_size")
    )
    expect(result.get_by_role("table", name="Stages, in the order they ran")).to_contain_text(
        "Sentiment"
    )
    save_screenshot(page, "flow-simulator")
