"""An admin adds knowledge through the browser, watches it sync and searches it."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from console.consumers import render_live_fragment
from knowledge.models import Article, Source, SourceKind, SourceStatus
from knowledge.services import source_create
from tests.e2e.test_console_shell import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RESET_MD = b"""# Reset your password

Click "Forgot password" on the sign-in page and enter your work email.

## If the email never arrives

Wait five minutes, then look in your spam folder. The reset link works once.
"""


def test_admin_uploads_markdown_sees_it_ready_and_finds_it_in_the_playground(
    page: Page, live_server_url, admin
):
    sign_in(page, live_server_url, admin.email)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Knowledge").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Knowledge sources")

    page.get_by_role("link", name="Upload files").click()
    page.get_by_label("Name").fill("Help center")
    page.get_by_label("File").set_input_files(
        {"name": "reset-password.md", "mimeType": "text/markdown", "buffer": RESET_MD}
    )
    page.get_by_role("button", name="Add and sync").click()

    # The first sync loads the embedding model in the server: allow it a little longer.
    row = page.get_by_role("row").filter(has_text="Help center")
    expect(row.get_by_text("Ready", exact=True)).to_be_visible(timeout=30_000)
    expect(row.get_by_role("progressbar", name="1/1 articles")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Added “Help center”.")

    page.get_by_role("navigation", name="Knowledge").get_by_role("link", name="Articles").click()
    expect(page.get_by_role("link", name="Reset your password")).to_be_visible()
    # Typing filters as you go (no button press needed).
    page.get_by_label("Search by title or external id").fill("invoices")
    articles = page.get_by_role("region", name="Articles found")
    expect(articles).to_contain_text("0 articles matching “invoices”")
    page.get_by_label("Search by title or external id").fill("reset")
    expect(articles.get_by_role("link", name="Reset your password")).to_be_visible()

    page.get_by_role("link", name="Search playground").click()
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_label("Question", exact=True).fill("the reset email never arrives")
    page.get_by_role("button", name="Search").click()

    results = page.get_by_role("region", name="Search results")
    first = results.get_by_role("listitem").first
    expect(first.get_by_role("link")).to_have_text("Reset your password")
    expect(first).to_contain_text("If the email never arrives")
    expect(first).to_contain_text(re.compile(r"embedding #1 \(0\.\d\d\)"))
    expect(results).to_contain_text("query language: English")
    # htmx swapped the results in: same page, and the URL can be shared.
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page).to_have_url(re.compile(r"/knowledge/search/\?q=the(%20|\+)reset"))

    first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    expect(page.get_by_role("cell", name="If the email never arrives")).to_be_visible()

    # Deleting asks first (and removes the uploaded file, which the database flush would not).
    page.get_by_role("navigation", name="Knowledge").get_by_role("link", name="Sources").click()
    page.get_by_text("Delete Help center…").click()
    page.get_by_role("button", name="Yes, delete “Help center”").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted “Help center” and its articles.")
    expect(page.get_by_role("cell", name="No sources yet. Add one below.")).to_be_visible()


def fragment_for(event: dict) -> str:
    """What the server's live socket sends for `event`: the real template, rendered here."""
    html = render_live_fragment(event)
    assert html is not None
    return html


def test_sync_progress_pushed_over_the_socket_updates_the_row_in_place(
    page: Page, live_server_url, admin, workspace
):
    source = source_create(
        workspace=workspace, kind=SourceKind.UPLOAD, name="Manuals", settings_={}
    )
    Source.objects.filter(pk=source.pk).update(status=SourceStatus.QUEUED)
    sockets: list[WebSocketRoute] = []
    # Stand in for the server's socket, so the test decides what the page is told and when.
    page.route_web_socket(re.compile(r"/ws/w/acme/live/$"), lambda ws: sockets.append(ws))

    sign_in(page, live_server_url, admin.email)
    page.goto(f"{live_server_url}/w/acme/knowledge/")
    row = page.locator(f"#source-{source.pk}")
    expect(row).to_contain_text("Queued")
    deadline = time.monotonic() + 5
    while not sockets and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert sockets, "the sources page did not open its live socket"

    event = {
        "type": "source.progress",
        "source_id": source.pk,
        "name": "Manuals",
        "status": "syncing",
        "status_label": "Syncing",
        "processed": 1,
        "total": 2,
        "percent": 50,
        "failed_files": 0,
        "last_error": "",
    }
    sockets[0].send(fragment_for(event))
    expect(row.get_by_role("progressbar", name="1/2 articles")).to_be_visible()
    expect(row).to_contain_text("Syncing")

    # When the sync ends, the row is fetched again for what the event does not carry.
    Article.objects.bulk_create(
        Article(workspace=workspace, source=source, external_id=n, title=n, content=n)
        for n in ("a", "b")
    )
    Source.objects.filter(pk=source.pk).update(status=SourceStatus.READY, processed=2, total=2)
    sockets[0].send(
        fragment_for({**event, "status": "ready", "status_label": "Ready", "processed": 2})
    )
    expect(row.get_by_role("progressbar", name="2/2 articles")).to_be_visible()
    # The Articles column (the progress cell's accessible name may also read "2" while swapping).
    expect(row.locator('td[data-label="Articles"]')).to_have_text("2")
    expect(row).to_contain_text("Ready")
    expect(page.locator("#knowledge-announcer")).to_have_text("Manuals: Ready, 2/2 articles.")


def test_knowledge_pages_fit_a_phone_screen(browser, live_server_url, admin, workspace):
    source = source_create(
        workspace=workspace,
        kind=SourceKind.UPLOAD,
        name="A source with a rather long name to wrap",
        settings_={"filename": "a-very-long-file-name-without-any-spaces-at-all-in-it.zip"},
    )
    Source.objects.filter(pk=source.pk).update(
        status=SourceStatus.FAILED,
        last_error="Could not read the source: https://example.com/a/very/long/path/that/goes/on",
        file_errors=[{"external_id": "folder/" + "x" * 80 + ".pdf", "reason": "Not a PDF."}],
    )
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server_url, admin.email)
        for path in ["knowledge/", "knowledge/articles/", "knowledge/search/"]:
            page.goto(f"{live_server_url}/w/acme/{path}")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"/{path} scrolls sideways by {overflow}px on a phone"
    finally:
        context.close()
