"""The admin audit log page: who changed what, when, old and new value; filters by area and
person; long values folded; paginated; admins only."""

from __future__ import annotations

import html
import re

import pytest

from console.audit import Change, audit_record
from console.models import AuditEntry
from routing.services import flow_settings_update, queue_save
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

URL = "/w/acme/audit/"


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def rows_of(response) -> list[str]:
    body = response.content.decode()
    return re.findall(r"<tr>\s*<td data-label=\"When\">.*?</tr>", body, re.S)


@pytest.fixture
def changes(workspace, admin, agent):
    """A settings change by the admin, a queue added by the admin, and an action change by
    nobody (an API key)."""
    flow = workspace.flows.get()
    flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.65},
        expected_revision=flow.draft_revision,
        by=admin,
    )
    queue_save(workspace=workspace, name="Billing", tier=1, sla_wait_minutes=15, by=admin)
    audit_record(
        workspace=workspace,
        user=None,
        area="actions",
        subject="action issue_refund",
        changes=[Change("policy", "approval", "suggest")],
    )


def test_admin_reads_who_changed_what_and_when_newest_first(workspace, admin, changes):
    response = client_for(admin).get(URL)

    assert response.status_code == 200
    rows = [html.unescape(row) for row in rows_of(response)]
    assert len(rows) == 4
    assert "System or API key" in rows[0] and "action issue_refund" in rows[0]
    assert "<code>policy</code>" in rows[0]
    assert '<code class="break">approval</code>' in rows[0]
    assert '<code class="break">suggest</code>' in rows[0]
    assert "Alice Admin" in rows[1] and "queue Billing" in rows[1] and ">none<" in rows[1]
    assert '{"name": "Billing", "tier": 1, "sla_wait_minutes": 15}' in rows[1]
    assert "Alice Admin" in rows[2] and "confidence_threshold" in rows[2]
    assert ">0.5<" in rows[2] and ">0.65<" in rows[2]
    # The oldest: the default flow, published when the workspace was made.
    assert "System or API key" in rows[3] and "published version" in rows[3]


def test_a_long_value_is_folded_and_pretty_printed(workspace, admin):
    rule = {
        "name": "Enterprise customers who are angry",
        "conditions": [{"fact": "customer_plan", "op": "eq", "value": "enterprise"}],
        "action": {"type": "handoff", "queue": "Tier 2", "priority": "high"},
    }
    audit_record(
        workspace=workspace,
        user=admin,
        area="rules",
        subject="Default flow",
        changes=[Change("rule 'Enterprise customers who are angry'", None, rule)],
    )

    page = text_of(client_for(admin).get(URL))

    # Folded behind its first 60 characters on one line (jsonb keeps keys in its own order).
    assert re.search(
        r'<details><summary><code>\{"name": "Enterprise customers who are angry", [^<]{13}…</code>',
        page,
    )
    assert '<pre class="json">{\n  "name": "Enterprise customers who are angry",' in page


def test_the_log_filters_by_area_and_by_person(workspace, admin, agent, changes):
    client = client_for(admin)

    by_area = client.get(URL, {"area": "queues"})
    by_person = client.get(URL, {"person": admin.pk})
    both = client.get(URL, {"person": admin.pk, "area": "flow settings"})

    assert [("queue Billing" in row) for row in rows_of(by_area)] == [True]
    assert len(rows_of(by_person)) == 2
    assert all("Alice Admin" in row for row in rows_of(by_person))
    (row,) = rows_of(both)
    assert "confidence_threshold" in row
    # The person filter offers the members and whoever changed something.
    assert f'<option value="{agent.pk}">Andy Agent (agent@acme.example)</option>' in text_of(
        by_area
    )


def test_a_bad_filter_is_shown_and_ignored(workspace, admin, outsider, changes):
    response = client_for(admin).get(URL, {"area": "secrets", "person": outsider.pk})

    page = text_of(response)
    assert response.status_code == 200
    assert page.count("This filter is ignored.") == 2
    assert len(rows_of(response)) == 4
    assert client_for(admin).get(URL, {"person": "'; drop table"}).status_code == 200


def test_the_log_is_paginated_and_htmx_gets_only_the_results(workspace, admin):
    audit_record(
        workspace=workspace,
        user=admin,
        area="team",
        subject="member x@acme.example",
        changes=[Change("role", None, f"step {number}") for number in range(60)],
    )
    client = client_for(admin)

    first = client.get(URL)
    second = client.get(URL, {"page": 2}, HTTP_HX_REQUEST="true")

    assert len(rows_of(first)) == 50 and "page 1 of 2" in text_of(first)
    assert len(rows_of(second)) == 11  # and the default flow's first publication
    assert "<h1>" not in second.content.decode() and 'rel="prev"' in second.content.decode()


def test_only_admins_open_the_audit_log_and_only_their_workspaces(
    workspace, admin, agent, viewer, outsider, other_workspace
):
    audit_record(
        workspace=other_workspace,
        user=outsider,
        area="queues",
        subject="queue Globex secret queue",
        changes=[Change("queue", None, {"name": "Globex secret queue"})],
    )

    for person in (agent, viewer):
        response = client_for(person).get(URL)
        assert response.status_code == 403
        assert "This page is for Admin" in text_of(response)
    assert client_for(outsider).get(URL).status_code == 404
    assert "Globex secret queue" not in text_of(client_for(admin).get(URL))
    assert AuditEntry.objects.filter(workspace=other_workspace).exists()


def test_the_audit_log_is_in_the_navigation(admin):
    page = text_of(client_for(admin).get(URL))

    assert '<a href="/w/acme/audit/" aria-current="page">Audit log</a>' in page
