"""A person signs in with a browser and finds their way around the console shell."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_admin_signs_in_finds_the_shell_and_creates_an_api_key(page, live_server_url, admin):
    sign_in(page, live_server_url, admin.email)

    expect(page.get_by_role("heading", level=1)).to_have_text("Acme")
    nav = page.get_by_role("navigation", name="Console")
    for label in [
        "Flows",
        "Rules",
        "Knowledge",
        "Actions",
        "Inbox",
        "Analytics",
        "Team",
        "API keys",
    ]:
        expect(nav.get_by_role("link", name=re.compile(label))).to_be_visible()

    nav.get_by_role("link", name=re.compile("Rules")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rules")

    nav.get_by_role("link", name="API keys").click()
    page.get_by_label("Key name").fill("Billing backend")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_contain_text("will not be shown again")
    expect(page.get_by_test_id("new-api-key")).to_have_text(re.compile(r"^sck_"))
    expect(page.get_by_role("cell", name="Billing backend", exact=True)).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/"))


def test_wrong_password_shows_an_error_and_keeps_the_email(page, live_server_url, admin):
    page.goto(f"{live_server_url}/login/")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct email and password")
    expect(page.get_by_label("Email")).to_have_value(admin.email)


def test_shell_fits_a_phone_screen(browser, live_server_url, viewer):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server_url, viewer.email)
        expect(page.get_by_role("heading", level=1)).to_have_text("Acme")

        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
        expect(
            page.get_by_role("navigation", name="Console").get_by_role("link", name="Team")
        ).to_be_visible()
    finally:
        context.close()
