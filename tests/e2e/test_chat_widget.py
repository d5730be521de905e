"""The chat widget on a company's own site: an admin allows the site and copies the snippet from
the console; on that site a customer opens the chat button and gets the AI's answer inside the
widget's frame. On a site that was not allowed, the browser refuses to show the chat."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from conversations.widget import chat_widget_origins_update
from knowledge.models import SourceKind
from knowledge.services import source_create, source_sync
from routing.services import flow_publish, flow_settings_update
from tests.conftest import PASSWORD_ARTICLE, write_help_center
from tests.e2e.test_console_shell import sign_in
from tests.e2e.test_handoff_live import new_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Sites of the company, served by the browser itself (page.route), on origins of their own.
SHOP = "https://shop.acme.test"
ELSEWHERE = "https://copycat.example.test"
QUESTION = "How long is the password reset link valid?"
ARTICLE_URL = "https://help.acme.example/reset-password"


@pytest.fixture
def help_center_published(workspace, admin, tmp_path):
    """The mini help center and a published flow confident enough to answer from its short
    articles (as in test_customer_chat)."""
    folder = write_help_center(tmp_path / "help-center")
    (folder / "en" / "reset-password.md").write_text(
        f"---\nurl: {ARTICLE_URL}\n---\n{PASSWORD_ARTICLE}"
    )
    source = source_create(
        workspace=workspace, kind=SourceKind.FOLDER, name="Help", settings_={"path": str(folder)}
    )
    source_sync(source=source)
    flow = workspace.flows.get()
    flow = flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.4},
        expected_revision=flow.draft_revision,
    )
    flow_publish(flow=flow, published_by=admin)


def serve_company_page(page: Page, origin: str, snippet: str) -> None:
    """The company's page at `origin`, with the widget snippet pasted before </body>.

    The test's chat server listens on 127.0.0.1, and Chromium asks before a public site reaches
    the loopback network; a real chat server is public, so that permission is granted here.
    """
    page.context.grant_permissions(["local-network-access"])
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Acme shop</title></head>"
        f"<body><h1>Acme shop</h1><p>Buy things.</p>{snippet}</body></html>"
    )

    def fulfill(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

    page.route(f"{origin}/**", fulfill)


def snippet_for(live_server_url: str) -> str:
    return (
        f'<script src="{live_server_url}/static/conversations/widget.js" '
        'data-workspace="acme" data-title="Acme support" async></script>'
    )


def test_admin_allows_the_shop_and_a_customer_chats_in_the_widget_there(
    help_center_published, browser: Browser, page: Page, live_server_url, admin
):
    sign_in(page, live_server_url, admin.email)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Chat widget").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chat widget")
    expect(page.get_by_text("No site may show the widget yet")).to_be_visible()

    sites = page.get_by_label("Sites that may show the widget")
    sites.fill("shop.acme.test")
    page.get_by_role("button", name="Save sites").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Line 1 (“shop.acme.test”): write the whole origin with its scheme"
    )
    expect(sites).to_have_value("shop.acme.test")

    sites.fill(f"{SHOP}/")
    page.get_by_role("button", name="Save sites").click()
    expect(page.get_by_text("Saved. 1 site may show the widget.")).to_be_visible()
    expect(sites).to_have_value(SHOP)

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy snippet").click()
    expect(page.get_by_text("Copied.")).to_be_visible()
    snippet = page.evaluate("navigator.clipboard.readText()")
    assert snippet == page.locator("#widget-snippet").text_content()
    assert f'src="{live_server_url}/static/conversations/widget.js"' in snippet

    customer_context, customer = new_page(browser)
    serve_company_page(customer, SHOP, snippet)
    customer.goto(f"{SHOP}/pricing")
    launcher = customer.get_by_role("button", name="Acme support")
    expect(launcher).to_have_attribute("aria-expanded", "false")

    launcher.focus()
    customer.keyboard.press("Enter")  # the launcher is a real button: keyboard users open it too

    expect(launcher).to_have_attribute("aria-expanded", "true")
    panel = customer.get_by_role("region", name="Acme support")
    expect(panel).to_be_visible()
    chat = customer.frame_locator("iframe[title='Acme support']")
    expect(chat.get_by_text("Connected")).to_be_visible()
    message_box = chat.get_by_label("Your message")
    expect(message_box).to_be_focused()

    customer.keyboard.type(QUESTION)
    customer.keyboard.press("Enter")

    conversation = chat.get_by_role("log", name="Conversation")
    # The first answer loads the models in the server: allow it a little longer.
    expect(conversation).to_contain_text("30 minutes", timeout=60_000)
    source = conversation.get_by_role("link", name="Reset your password")
    expect(source).to_have_attribute("href", ARTICLE_URL)

    customer.keyboard.press("Escape")  # pressed inside the chat's frame
    expect(panel).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_be_focused()

    # The next page of the shop continues the same conversation, even though this Chromium
    # refuses storage to the chat's frame (a third-party frame on the shop's page).
    customer.goto(f"{SHOP}/checkout")
    launcher.click()
    expect(chat.get_by_text("Connected")).to_be_visible()
    expect(conversation.get_by_text(QUESTION, exact=True)).to_have_count(1)
    expect(conversation).to_contain_text("30 minutes")
    customer_context.close()


def test_a_site_that_was_not_allowed_cannot_show_the_chat(workspace, page: Page, live_server_url):
    chat_widget_origins_update(workspace=workspace, origins=[SHOP], updated_by=None)
    serve_company_page(page, ELSEWHERE, snippet_for(live_server_url))
    page.goto(f"{ELSEWHERE}/")

    with (
        page.expect_console_message(lambda message: "frame-ancestors" in message.text) as refusal,
        page.expect_event("framenavigated", lambda frame: frame.parent_frame is not None) as shown,
    ):
        page.get_by_role("button", name="Acme support").click()

    assert refusal.value.text.startswith(f"Framing '{live_server_url}/' violates")
    assert f"frame-ancestors 'self' {SHOP}" in refusal.value.text
    # What the frame shows instead is Chromium's error page, with no chat in it.
    assert shown.value.url.startswith("chrome-error://")
    chat = page.frame_locator("iframe[title='Acme support']")
    expect(chat.get_by_label("Your message")).to_have_count(0)
    expect(page.get_by_role("region", name="Acme support")).to_be_visible()


def test_on_a_phone_the_chat_fills_the_screen_and_its_bar_closes_it(
    workspace, browser: Browser, live_server_url
):
    chat_widget_origins_update(workspace=workspace, origins=[SHOP], updated_by=None)
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True)
    phone = context.new_page()
    phone.set_default_timeout(10_000)
    serve_company_page(phone, SHOP, snippet_for(live_server_url))
    phone.goto(f"{SHOP}/")
    launcher = phone.get_by_role("button", name="Acme support")

    launcher.click()

    panel = phone.get_by_role("region", name="Acme support")
    expect(
        phone.frame_locator("iframe[title='Acme support']").get_by_text("Connected")
    ).to_be_visible()
    assert panel.bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 667}
    expect(launcher).to_be_hidden()  # under the chat's Send button otherwise

    close = panel.get_by_role("button", name="Close chat")
    close.focus()
    phone.keyboard.press("Escape")  # pressed on the widget's own bar, outside the chat's frame

    expect(panel).to_be_hidden()
    expect(launcher).to_be_visible()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")

    launcher.click()
    panel.get_by_role("button", name="Close chat").click()
    expect(panel).to_be_hidden()
    context.close()
