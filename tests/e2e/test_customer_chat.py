"""A customer asks the hosted chat a routine question and gets an answer with its source."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from knowledge.models import SourceKind
from knowledge.services import source_create, source_sync
from routing.services import flow_publish, flow_settings_update
from tests.conftest import PASSWORD_ARTICLE, write_help_center

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QUESTION = "How long is the password reset link valid?"
ARTICLE_URL = "https://help.acme.example/reset-password"


@pytest.fixture
def help_center_published(workspace, admin, tmp_path):
    """The mini help center, its password article with a public URL to cite, and a published
    flow confident enough to answer from such short articles."""
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


def test_customer_gets_a_cited_answer_and_keeps_the_conversation_on_reload(
    help_center_published, page: Page, live_server_url
):
    page.goto(f"{live_server_url}/chat/acme/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme support")
    expect(page.get_by_text("Connected")).to_be_visible()

    page.get_by_label("Your message").fill(QUESTION)
    page.keyboard.press("Enter")

    conversation = page.get_by_role("log", name="Conversation")
    # The first answer loads the models in the server: allow it a little longer.
    expect(conversation).to_contain_text("30 minutes", timeout=60_000)
    source = conversation.get_by_role("link", name="Reset your password")
    expect(source).to_have_attribute("href", ARTICLE_URL)
    expect(page.get_by_label("Your message")).to_have_value("")

    page.reload()

    expect(page.get_by_text("Connected")).to_be_visible()
    expect(conversation.get_by_text(QUESTION, exact=True)).to_have_count(1)
    expect(conversation).to_contain_text("30 minutes")
    expect(conversation.get_by_role("link", name="Reset your password")).to_be_visible()
