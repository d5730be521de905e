"""An admin manages the team and its queues in the browser, and reads the audit log of it all."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from console.models import Membership
from routing.models import Queue
from routing.services import flow_settings_update, queue_save
from tests.e2e.conftest import save_screenshot
from tests.e2e.test_action_console import fits_a_phone
from tests.e2e.test_console_shell import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NINA_PASSWORD = "plum-orbit-kettle-42"


def test_admin_adds_a_member_changes_a_role_and_staffs_a_queue(
    admin, agent, workspace, page: Page, browser: Browser, live_server_url
):
    sign_in(page, live_server_url, admin.email)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Team")

    page.get_by_label("Email").fill("nina@acme.example")
    page.get_by_label("Name", exact=True).fill("Nina New")
    page.get_by_label("Role", exact=True).select_option(label="Agent, tier 2")
    page.get_by_label("Initial password").fill(NINA_PASSWORD)
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_contain_text("Added nina@acme.example as Agent, tier 2.")
    members = page.get_by_role("table", name=f"Members of {workspace.name}")
    expect(members.get_by_role("row", name=re.compile("Nina New"))).to_be_visible()

    page.get_by_label("Role of Andy Agent").select_option(label="Agent, tier 2")
    page.get_by_role("button", name="Change the role of Andy Agent").click()
    expect(page.get_by_role("status")).to_contain_text("Andy Agent is now Agent, tier 2.")
    expect(page.get_by_label("Role of Andy Agent")).to_have_value("agent:2")
    save_screenshot(page, "team")
    assert fits_a_phone(page)

    page.get_by_role("navigation", name="Team").get_by_role("link", name="Queues").click()
    page.get_by_role("link", name="Tier 2", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tier 2")
    page.get_by_label("Nina New (Agent, tier 2)").check()
    page.get_by_role("button", name="Save members").click()
    expect(page.get_by_role("status")).to_contain_text("Saved who works the queue “Tier 2”.")
    page.get_by_role("link", name="Queues").first.click()
    expect(page.get_by_role("row", name=re.compile("Tier 2"))).to_contain_text("Nina New")
    assert fits_a_phone(page)

    # Nina signs in with the initial password and works as a tier-2 agent.
    nina_page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    nina_page.goto(f"{live_server_url}/login/")
    nina_page.get_by_label("Email").fill("nina@acme.example")
    nina_page.get_by_label("Password").fill(NINA_PASSWORD)
    nina_page.get_by_role("button", name="Sign in").click()
    expect(nina_page.get_by_test_id("current-role")).to_have_text("Agent, tier 2")
    nina_page.context.close()

    tier2 = Queue.objects.get(workspace=workspace, name="Tier 2")
    assert [person.email for person in tier2.members.all()] == ["nina@acme.example"]
    assert Membership.objects.get(workspace=workspace, user=agent).tier == 2


def test_admin_filters_the_audit_log_by_area(admin, workspace, page: Page, live_server_url):
    queue_save(workspace=workspace, name="Billing", tier=1, sla_wait_minutes=15, by=admin)
    flow = workspace.flows.get()
    flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.7},
        expected_revision=flow.draft_revision,
        by=admin,
    )
    sign_in(page, live_server_url, admin.email)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    changes = page.get_by_role("region", name="Changes found")
    expect(changes).to_contain_text("confidence_threshold")

    page.evaluate("window.stillTheSamePage = true")
    page.get_by_label("Area").select_option(label="Queues")
    expect(changes).to_contain_text("1 change matching the filters.")
    expect(changes).to_contain_text("queue Billing")
    expect(changes).not_to_contain_text("confidence_threshold")
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page).to_have_url(re.compile(r"area=queues"))
    expect(changes).to_contain_text('{"name": "Billing", "tier": 1, "sla_wait_minutes": 15}')
    save_screenshot(page, "audit-log")
    assert fits_a_phone(page)
