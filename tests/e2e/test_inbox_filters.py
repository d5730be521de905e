"""An agent who filters the inbox by a queue sees that queue's new escalations appear live, and
not the other queues'."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.console.test_realtime import CRASH, INVOICE, billing_and_tech  # noqa: F401
from tests.e2e.test_console_shell import sign_in
from tests.e2e.test_inbox import CustomerBackend

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_queue_filter_shows_its_own_new_escalations_and_not_another_queues(
    page: Page,
    live_server_url,
    agent,
    workspace,
    billing_and_tech,  # noqa: F811  (invoices go to Billing, crashes to Tech)
):
    backend = CustomerBackend(live_server_url, workspace)
    # Counted by htmx's ws extension each time the list's socket opens (and so is in the group).
    page.add_init_script(
        "document.addEventListener('htmx:wsOpen', () => {"
        " window.liveSocketOpens = (window.liveSocketOpens || 0) + 1 })"
    )
    sign_in(page, live_server_url, agent.email)
    page.goto(f"{live_server_url}/w/acme/inbox/")
    page.wait_for_function("window.liveSocketOpens === 1")

    page.get_by_label("Queue").select_option(label="Billing")
    # The filtered list replaces the old one, with a socket for the new filter.
    expect(page).to_have_url(re.compile(rf"[?&]queue={billing_and_tech['Billing'].pk}(&|$)"))
    expect(page.get_by_role("cell", name="No conversation matches these filters.")).to_be_visible()
    page.wait_for_function("window.liveSocketOpens === 2")
    page.evaluate("window.stillTheSamePage = true")

    for name, text in (("Tom Tech", CRASH), ("Bea Billing", INVOICE)):
        conversation = backend.post("conversations/", {"customer": {"name": name}})
        backend.post(
            f"conversations/{conversation['id']}/messages/", {"text": text, "client_id": "c-1"}
        )

    rows = page.get_by_role("row")
    billing_row = rows.filter(has_text="Bea Billing")
    expect(billing_row).to_contain_text("My invoice is wrong.")
    expect(billing_row).to_contain_text("Billing")
    # The Tech escalation came first: had the socket sent it, it would be listed by now.
    expect(rows.filter(has_text="Tom Tech")).to_have_count(0)
    expect(page.get_by_role("cell", name="No conversation matches these filters.")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage") is True  # pushed, not reloaded
