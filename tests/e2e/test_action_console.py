"""An admin sets up the AI actions in the browser: installs the built-in ones, lets the refund run
after an agent's approval, is refused when making "delete account" autonomous, and changes who
may approve destructive actions."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from routing.actions import DESTRUCTIVE_AUTONOMOUS_ERROR
from routing.models import Action, ActionApprovalPolicy
from tests.e2e.conftest import save_screenshot
from tests.e2e.test_console_shell import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BACKEND = "https://backend.acme.example/support-actions/refund"


def fits_a_phone(page: Page) -> bool:
    """Whether the page, at a phone's width, needs no sideways scrolling."""
    page.set_viewport_size({"width": 390, "height": 844})
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 800})
    return bool(fits)


def test_admin_installs_actions_sets_the_refund_policy_and_who_approves_destructive_ones(
    admin, workspace, page: Page, live_server_url
):
    sign_in(page, live_server_url, admin.email)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Actions").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Actions")

    page.get_by_role("button", name="Install built-in actions").click()
    expect(page.get_by_role("status")).to_contain_text("Installed 6 built-in actions")
    actions = page.get_by_role("table", name=f"AI actions of {workspace.name}")
    expect(actions.get_by_role("row", name=re.compile("Delete account"))).to_contain_text(
        "Destructive"
    )

    # The refund runs after an agent approves it, against the company's backend.
    page.get_by_role("link", name="Edit Issue refund").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Issue refund")
    page.get_by_label("What the AI may do").select_option(label="Suggest to an agent")
    page.get_by_label("What the AI may do").select_option(label="Run after an agent approves")
    page.get_by_label("Webhook URL").fill(BACKEND)
    page.get_by_label("Enabled").check()
    page.get_by_role("button", name="Save action").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the action “Issue refund”.")
    refund_row = actions.get_by_role("row", name=re.compile("Issue refund"))
    expect(refund_row.get_by_test_id("policy")).to_have_text("Run after an agent approves")
    expect(refund_row.get_by_test_id("state")).to_have_text("Enabled")

    # "Delete account" may not run by itself: the page says why and keeps the choice shown.
    page.get_by_role("link", name="Edit Delete account").click()
    page.get_by_label("What the AI may do").select_option(label="Run by itself")
    page.get_by_role("button", name="Save action").click()
    expect(page.get_by_role("alert")).to_contain_text(DESTRUCTIVE_AUTONOMOUS_ERROR)
    expect(page.get_by_label("What the AI may do")).to_have_value("autonomous")
    expect(page.get_by_label("What the AI may do")).to_be_focused()
    page.get_by_role("link", name="Cancel").click()

    # Tier-2 agents may now approve destructive actions too.
    grid = page.get_by_role("table", name="Who may approve each risk level")
    viewers = grid.get_by_label("Viewers may approve destructive actions")
    expect(viewers).to_be_disabled()
    grid.get_by_label("Agents, tier 2 may approve destructive actions").check()
    page.get_by_role("button", name="Save approvers").click()
    expect(page.get_by_role("status")).to_contain_text("Saved who may approve each risk level.")
    expect(grid.get_by_label("Agents, tier 2 may approve destructive actions")).to_be_checked()
    expect(grid.get_by_role("row", name=re.compile("Destructive"))).to_contain_text(admin.name)
    save_screenshot(page, "actions")
    assert fits_a_phone(page)

    refund = Action.objects.get(workspace=workspace, key="issue_refund")
    assert (refund.policy, refund.enabled, refund.webhook_url) == ("approval", True, BACKEND)
    assert Action.objects.get(workspace=workspace, key="delete_account").policy == "approval"
    assert ActionApprovalPolicy.objects.get(workspace=workspace, risk="destructive").approvers == [
        "admin",
        "agent:2",
    ]
