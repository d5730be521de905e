"""An agent opens a flow in the browser and runs a message through its draft in the simulator."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from routing.services import flow_settings_update
from tests.e2e.test_console_shell import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_agent_simulates_a_question_and_sees_the_answer_and_its_trace(
    synced_source, agent, workspace, page: Page, live_server_url
):
    flow = workspace.flows.get()
    # The fixture's articles are short: a lower threshold lets their passages answer.
    flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.4},
        expected_revision=flow.draft_revision,
    )
    sign_in(page, live_server_url, agent.email)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Flows").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Flows")
    page.get_by_role("link", name="Default flow").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Default flow")
    page.get_by_role("navigation", name="Default flow").get_by_role(
        "link", name="Simulator"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Simulator")

    page.evaluate("window.stillTheSamePage = true")
    page.get_by_label("Customer message").fill("How long is the password reset link valid?")
    page.get_by_role("button", name="Simulate").click()

    result = page.get_by_role("region", name="Simulation result")
    # The first simulation loads the models in the server: allow it a little longer.
    expect(result.get_by_test_id("outcome")).to_have_text("Answered", timeout=30_000)
    expect(result.get_by_test_id("reply")).to_contain_text("30 minutes")
    expect(result.get_by_role("table", name="Stages, in the order they ran")).to_contain_text(
        "Retrieval"
    )
    # htmx replaced the result region only: same page, and the message is still typed in.
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.get_by_label("Customer message")).to_have_value(
        "How long is the password reset link valid?"
    )
    if os.environ.get("FLOW_SCREENSHOT"):
        page.screenshot(path=os.environ["FLOW_SCREENSHOT"], full_page=True)
