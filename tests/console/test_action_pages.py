"""The console's Actions pages: the catalogue with risk and policy, the built-in templates,
adding and editing an action (its parameter schema as JSON), enabling it, the rule that a
destructive action is never autonomous, who may approve each risk level, the webhook secret, and
the log of requests with its filters. Only admins change anything."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from console.audit import audit_entries_of_workspace
from console.models import AuditEntry
from conversations.action_requests import action_request_create, action_request_reject
from conversations.models import ActionRequest
from conversations.services import conversation_start
from routing.actions import (
    DESTRUCTIVE_AUTONOMOUS_ERROR,
    action_approval_policy_update,
    action_templates_install,
    action_update,
)
from routing.models import Action, ActionApprovalPolicy, ActionPolicy, ActionWebhookSecret
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

BACKEND = "https://backend.acme.example/support-actions"
REFUND_SCHEMA = {
    "type": "object",
    "properties": {"amount": {"type": "number", "minimum": 0.01, "maximum": 500}},
    "required": ["amount"],
}


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def url(path: str = "", slug: str = "acme") -> str:
    return f"/w/{slug}/actions/{path}"


def installed(workspace) -> dict[str, Action]:
    return {action.key: action for action in action_templates_install(workspace=workspace).actions}


def action_form(action: Action | None = None, **overrides) -> dict[str, str]:
    """The edit form as the page fills it for `action` (or a new refund action), changed by
    `overrides`."""
    values = {
        "name": "Issue refund",
        "key": "refund",
        "description": "Refund a payment to the original payment method.",
        "example_phrasings": "I want a refund\nMoney back please",
        "parameters": json.dumps(REFUND_SCHEMA),
        "risk": "write",
        "policy": "approval",
        "webhook_url": BACKEND,
        "loaded_at": "",
    }
    if action is not None:
        values.update(
            name=action.name,
            key=action.key,
            description=action.description,
            example_phrasings="\n".join(action.example_phrasings),
            parameters=json.dumps(action.parameters),
            risk=action.risk,
            policy=action.policy,
            webhook_url=action.webhook_url,
            loaded_at=action.updated_at.isoformat(),
        )
        if action.enabled:
            values["enabled"] = "on"
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def audited(workspace, area: str) -> list[tuple[str, str, Any, Any]]:
    return [
        (entry.subject, entry.field, entry.old_value, entry.new_value)
        for entry in audit_entries_of_workspace(workspace=workspace, area=area).order_by("id")
    ]


# --- the catalogue ---------------------------------------------------------------------------


def test_admin_installs_the_built_in_actions_and_sees_them_disabled_with_risk_and_policy(
    workspace, admin
):
    client = client_for(admin)
    assert "No actions yet." in text_of(client.get(url()))

    response = client.post(url("templates/install/"), follow=True)

    page = text_of(response)
    assert "Installed 6 built-in actions" in page
    assert "They stay disabled until you set your webhook URL" in page
    refund_row = re.search(r'<tr id="action-\d+">(?:(?!</tr>).)*Issue refund.*?</tr>', page, re.S)
    assert refund_row is not None
    assert "Write" in refund_row.group(0) and "Run after an agent approves" in refund_row.group(0)
    assert "Disabled" in refund_row.group(0)
    assert "placeholder: set yours" in refund_row.group(0)
    # Installing again changes nothing and says so.
    again = text_of(client.post(url("templates/install/"), follow=True))
    assert "Every built-in action is already installed; nothing changed." in again
    assert Action.objects.filter(workspace=workspace).count() == 6
    assert [subject for subject, *_ in audited(workspace, "actions")] == [
        f"action {key}" for key in installed(workspace)
    ]


def test_admin_adds_an_action_and_its_schema_and_phrasings_are_stored(workspace, admin):
    response = client_for(admin).post(url("new/"), action_form(), follow=True)

    assert "Added the action “Issue refund”." in text_of(response)
    action = Action.objects.get(workspace=workspace, key="refund")
    assert action.example_phrasings == ["I want a refund", "Money back please"]
    assert action.parameters["properties"]["amount"]["maximum"] == 500
    assert action.parameters["required"] == ["amount"]
    ((subject, field, old, new),) = audited(workspace, "actions")
    assert (subject, field, old, new["key"]) == ("action refund", "action", None, "refund")


def test_json_that_does_not_parse_is_refused_with_its_line_and_the_input_is_kept(admin):
    broken = '{\n  "type": "object",\n  "properties": {"amount": {"type": "number",}}\n}'

    response = client_for(admin).post(
        url("new/"), action_form(parameters=broken, name="Refund (typed)")
    )

    assert response.status_code == 400
    page = text_of(response)
    assert "The action was not added." in page
    assert "This is not valid JSON" in page and "line 3" in page
    assert broken in page  # the textarea keeps what was typed
    assert 'value="Refund (typed)"' in page
    assert not Action.objects.exists()


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "object", "properties": {"amount": {"type": "number", "minimum": "ten"}}},
            "properties.amount.minimum: must be a number.",
        ),
        (
            {"type": "object", "properties": {}, "required": ["amount"]},
            "required: 'amount' is not one of the properties.",
        ),
        ([1, 2], "Describe the parameters as a JSON object."),
    ],
)
def test_a_schema_the_service_refuses_names_the_place_of_each_problem(admin, schema, message):
    response = client_for(admin).post(url("new/"), action_form(parameters=json.dumps(schema)))

    assert response.status_code == 400
    assert message in text_of(response)
    assert not Action.objects.exists()


def test_nan_and_huge_nesting_are_refused_as_json_not_a_server_error(admin):
    client = client_for(admin)
    nan = '{"type": "object", "properties": {"n": {"type": "number", "maximum": NaN}}}'
    deep = "[" * 5000 + "]" * 5000

    for parameters in (nan, deep):
        response = client.post(url("new/"), action_form(parameters=parameters))
        assert response.status_code == 400
        assert "This is not valid JSON" in text_of(response)
    assert not Action.objects.exists()


def test_a_destructive_action_cannot_be_made_autonomous_and_the_page_says_why(workspace, admin):
    delete_account = installed(workspace)["delete_account"]

    response = client_for(admin).post(
        url(f"{delete_account.pk}/edit/"),
        action_form(delete_account, policy="autonomous", name="Delete the account now"),
    )

    assert response.status_code == 400
    page = text_of(response)
    assert "The action was not saved." in page
    assert DESTRUCTIVE_AUTONOMOUS_ERROR in page
    # The person's input stays as they typed it, the choice that was refused included.
    assert 'value="Delete the account now"' in page
    assert '<option value="autonomous" selected>' in page
    delete_account.refresh_from_db()
    assert delete_account.policy == ActionPolicy.APPROVAL
    assert delete_account.name == "Delete account"


def test_an_edit_is_saved_and_audited_field_by_field(workspace, admin):
    refund = installed(workspace)["issue_refund"]
    placeholder = refund.webhook_url

    response = client_for(admin).post(
        url(f"{refund.pk}/edit/"),
        action_form(refund, webhook_url=BACKEND, policy="suggest", enabled="on"),
        follow=True,
    )

    assert "Saved the action “Issue refund”." in text_of(response)
    refund.refresh_from_db()
    assert (refund.policy, refund.webhook_url, refund.enabled) == ("suggest", BACKEND, True)
    changes = [(field, old, new) for _, field, old, new in audited(workspace, "actions")[6:]]
    assert changes == [
        ("policy", "approval", "suggest"),
        ("webhook_url", placeholder, BACKEND),
        ("enabled", False, True),
    ]
    assert AuditEntry.objects.filter(area="actions", field="policy").get().user == admin


def test_a_second_admin_saving_over_a_newer_change_is_told_and_keeps_their_input(workspace, admin):
    refund = installed(workspace)["issue_refund"]
    opened = action_form(refund, description="Refunds up to 100 EUR.")
    action_update(action=refund, changes={"policy": "suggest"})  # another admin, meanwhile

    response = client_for(admin).post(url(f"{refund.pk}/edit/"), opened)

    assert response.status_code == 400
    page = text_of(response)
    assert "Someone else changed this action since you opened it." in page
    assert "Refunds up to 100 EUR." in page
    refund.refresh_from_db()
    assert (refund.policy, refund.description) == ("suggest", refund.description)
    assert "100 EUR" not in refund.description


def test_enabling_needs_the_webhook_url_and_the_list_says_so(workspace, admin):
    refund = installed(workspace)["issue_refund"]
    client = client_for(admin)

    refused = text_of(client.post(url(f"{refund.pk}/enabled/"), {"enabled": "true"}, follow=True))
    assert "“Issue refund” was not enabled: Set the webhook URL of your backend" in refused
    refund.refresh_from_db()
    assert not refund.enabled

    action_update(action=refund, changes={"webhook_url": BACKEND})
    enabled = text_of(client.post(url(f"{refund.pk}/enabled/"), {"enabled": "true"}, follow=True))
    assert "“Issue refund” is enabled." in enabled
    # Sending the same wish twice (a double click) leaves it enabled rather than toggling.
    client.post(url(f"{refund.pk}/enabled/"), {"enabled": "true"})
    refund.refresh_from_db()
    assert refund.enabled

    junk = text_of(client.post(url(f"{refund.pk}/enabled/"), {"enabled": "maybe"}, follow=True))
    assert "Choose whether to enable or disable the action." in junk
    refund.refresh_from_db()
    assert refund.enabled


def test_an_action_asked_for_in_a_conversation_is_kept_and_the_page_says_to_disable_it(
    workspace, admin
):
    refund = installed(workspace)["issue_refund"]
    refund = action_update(action=refund, changes={"webhook_url": BACKEND, "enabled": True})
    action_request_create(
        conversation=None, action=refund, parameters={"amount": 5}, requested_by_ai=True
    )

    page = text_of(client_for(admin).post(url(f"{refund.pk}/delete/"), follow=True))

    assert "“Issue refund” was not deleted" in page and "disable it instead" in page
    assert Action.objects.filter(pk=refund.pk).exists()


# --- who may approve -------------------------------------------------------------------------


def approvers_form(workspace, **ticked: list[str]) -> dict[str, object]:
    """The grid as loaded now, with the given risk levels ticked differently."""
    current = {
        policy.risk: policy.approvers
        for policy in ActionApprovalPolicy.objects.filter(workspace=workspace)
    }
    return {
        "loaded": json.dumps(current),
        **{f"approvers_{risk}": ticked.get(risk, specs) for risk, specs in current.items()},
    }


def test_admin_changes_who_may_approve_destructive_actions_and_it_is_audited(workspace, admin):
    page = text_of(client_for(admin).get(url()))
    assert 'id="approver-destructive-admin" checked' in page
    assert 'id="approver-destructive-viewer" disabled' in page  # never offered

    response = client_for(admin).post(
        url("approvers/"), approvers_form(workspace, destructive=["admin", "agent:2"]), follow=True
    )

    assert "Saved who may approve each risk level." in text_of(response)
    policy = ActionApprovalPolicy.objects.get(workspace=workspace, risk="destructive")
    assert policy.approvers == ["admin", "agent:2"] and policy.updated_by == admin
    assert audited(workspace, "approvals") == [
        ("destructive actions", "approvers", ["admin"], ["admin", "agent:2"])
    ]


def test_saving_the_grid_unchanged_changes_nothing_and_says_so(workspace, admin):
    response = client_for(admin).post(url("approvers/"), approvers_form(workspace), follow=True)

    assert "Nothing changed: who may approve stays as it was." in text_of(response)
    assert audited(workspace, "approvals") == []
    assert not ActionApprovalPolicy.objects.filter(updated_by=admin).exists()


@pytest.mark.parametrize(
    ("ticked", "message"),
    [
        ([], "Somebody must be able to approve; requests would wait for ever."),
        (["admin", "viewer"], "Viewers can never approve destructive actions."),
        (["admin", "root"], "“root” is not a role: choose among the columns."),
    ],
)
def test_a_refused_grid_keeps_the_ticks_and_changes_nothing(workspace, admin, ticked, message):
    response = client_for(admin).post(
        url("approvers/"), approvers_form(workspace, write=["agent:1"], destructive=ticked)
    )

    assert response.status_code == 400
    page = text_of(response)
    assert "Who may approve was not saved." in page and message in page
    assert 'id="approver-write-agent:1" checked' in page  # the other level's ticks stay
    stored = dict(
        ActionApprovalPolicy.objects.filter(workspace=workspace).values_list("risk", "approvers")
    )
    assert stored["write"] == ["admin", "agent:2"] and stored["destructive"] == ["admin"]
    assert audited(workspace, "approvals") == []


def test_a_grid_saved_over_someone_elses_newer_change_is_refused(workspace, admin):
    opened = approvers_form(workspace, read=["admin"])
    action_approval_policy_update(workspace=workspace, risk="write", approvers=["admin"])

    response = client_for(admin).post(url("approvers/"), opened)

    assert response.status_code == 400
    assert "Someone else changed who may approve since you opened this page." in text_of(response)
    assert ActionApprovalPolicy.objects.get(workspace=workspace, risk="read").approvers == [
        "admin",
        "agent:2",
        "agent:1",
    ]


def test_a_damaged_grid_is_refused_clearly(workspace, admin):
    response = client_for(admin).post(
        url("approvers/"), {"loaded": "not json", "approvers_read": ["admin"]}
    )

    assert response.status_code == 400
    assert "The form is damaged: reload the page." in text_of(response)


# --- the webhook secret ----------------------------------------------------------------------


def test_a_rotated_secret_is_shown_once_and_never_audited(workspace, admin):
    client = client_for(admin)
    assert "No secret yet" in text_of(client.get(url()))

    response = client.post(url("webhook-secret/rotate/"))

    secret = ActionWebhookSecret.objects.get(workspace=workspace).secret
    page = text_of(response)
    assert f'data-testid="new-webhook-secret">{secret}<' in page
    assert "it will not be shown again" in page
    assert "no-store" in response["Cache-Control"]
    later = text_of(client.get(url()))
    assert secret not in later and "A secret is set" in later and "last rotated" in later
    ((subject, field, old, new),) = audited(workspace, "actions")
    assert (subject, field, old, new) == (
        "webhook signing secret",
        "secret",
        None,
        "new secret (not shown)",
    )
    assert secret not in json.dumps([old, new])


# --- the request log -------------------------------------------------------------------------


@pytest.fixture
def logged_requests(workspace, admin, agent) -> dict[str, ActionRequest]:
    """Three requests: the AI asked for a refund (rejected by the admin), an agent asked to
    export data (pending), an API key asked to delete an account (pending, last week)."""
    actions = {
        key: action_update(action=action, changes={"webhook_url": BACKEND, "enabled": True})
        for key, action in installed(workspace).items()
    }
    conversation = conversation_start(
        workspace=workspace, customer_data={"name": "Ana", "email": "ana@example.com"}
    )
    refund = action_request_create(
        conversation=conversation,
        action=actions["issue_refund"],
        parameters={"amount": 20, "currency": "EUR"},
        requested_by_ai=True,
    )
    action_request_reject(request=refund, by=admin, note="Already refunded")
    export = action_request_create(
        conversation=conversation,
        action=actions["export_data_csv"],
        parameters={"dataset": "invoices"},
        requested_by_ai=False,
        requested_by=agent,
    )
    delete = action_request_create(
        conversation=None,
        action=actions["delete_account"],
        parameters={"reason": "GDPR request"},
        requested_by_ai=False,
    )
    ActionRequest.objects.filter(pk=delete.pk).update(created_at=timezone.now() - timedelta(days=7))
    return {"refund": refund, "export": export, "delete": delete}


def shown_request_ids(response) -> list[int]:
    return [
        int(found) for found in re.findall(r'<tr id="request-(\d+)">', response.content.decode())
    ]


def test_the_request_log_lists_newest_first_with_who_asked_decided_and_the_conversation(
    workspace, viewer, admin, logged_requests
):
    response = client_for(viewer).get(url("requests/"))

    assert response.status_code == 200
    refund, export, delete = (logged_requests[key] for key in ("refund", "export", "delete"))
    assert shown_request_ids(response) == [delete.pk, export.pk, refund.pk]
    page = text_of(response)
    refund_row = page[page.index(f'id="request-{refund.pk}"') :]
    refund_row = refund_row[: refund_row.index("</tr>")]
    assert "The AI" in refund_row and "Rejected" in refund_row
    assert "Alice Admin (admin)" in refund_row and "Already refunded" in refund_row
    assert f"/w/acme/inbox/{refund.conversation_id}/" in refund_row
    assert "Andy Agent" in page and "An API key" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "rejected"}, ["refund"]),
        ({"risk": "destructive"}, ["delete"]),
        ({"requester": "ai"}, ["refund"]),
        ({"requester": "agent"}, ["export"]),
        ({"requester": "api"}, ["delete"]),
        ({"status": "pending", "requester": "agent"}, ["export"]),
    ],
)
def test_the_request_log_filters(admin, logged_requests, query, expected):
    response = client_for(admin).get(url("requests/"), query)

    assert shown_request_ids(response) == [logged_requests[key].pk for key in expected]


def test_the_request_log_filters_by_action_and_date_range(admin, logged_requests):
    client = client_for(admin)
    refund = logged_requests["refund"]
    today = timezone.localdate()
    week_ago = today - timedelta(days=7)

    by_action = client.get(url("requests/"), {"action": refund.action_id})
    yesterday = str(today - timedelta(days=1))
    since_yesterday = client.get(url("requests/"), {"since": yesterday})
    last_week = client.get(url("requests/"), {"since": str(week_ago), "until": str(week_ago)})

    assert shown_request_ids(by_action) == [refund.pk]
    assert shown_request_ids(since_yesterday) == [
        logged_requests["export"].pk,
        refund.pk,
    ]
    assert shown_request_ids(last_week) == [logged_requests["delete"].pk]


def test_a_bad_filter_is_shown_and_ignored_while_the_others_apply(
    admin, other_workspace, logged_requests
):
    foreign = installed(other_workspace)["issue_refund"]
    client = client_for(admin)

    response = client.get(
        url("requests/"), {"action": str(foreign.pk), "status": "pending", "until": "31/02/2024"}
    )

    page = text_of(response)
    assert response.status_code == 200
    assert "A date such as 2025-01-31. This filter is ignored." in page
    assert "Select a valid choice." in page
    assert shown_request_ids(response) == [
        logged_requests["delete"].pk,
        logged_requests["export"].pk,
    ]
    reversed_range = client.get(url("requests/"), {"since": "2025-02-01", "until": "2025-01-01"})
    assert "The end date is before the start date." in text_of(reversed_range)


def test_the_request_log_is_paginated_and_htmx_gets_only_the_results(
    workspace, admin, agent, logged_requests
):
    export = logged_requests["export"].action
    for _ in range(25):
        action_request_create(
            conversation=None,
            action=export,
            parameters={"dataset": "usage"},
            requested_by_ai=False,
            requested_by=agent,
        )
    client = client_for(admin)

    first = client.get(url("requests/"), {"status": "pending"})
    second = client.get(
        url("requests/"), {"status": "pending", "page": "2"}, HTTP_HX_REQUEST="true"
    )

    assert len(shown_request_ids(first)) == 25
    assert "27 requests matching the filters · page 1 of 2." in text_of(first)
    assert shown_request_ids(second) == [
        logged_requests["delete"].pk,
        logged_requests["export"].pk,
    ]
    body = second.content.decode()
    assert "<h1>" not in body and "status=pending&amp;page=1" in body
    assert "HX-Request" in second["Vary"]
    assert client.get(url("requests/"), {"page": "9999"}).status_code == 200


# --- who may do what -------------------------------------------------------------------------


def test_agents_and_viewers_see_the_actions_read_only(workspace, agent, viewer):
    refund = installed(workspace)["issue_refund"]
    for person in (agent, viewer):
        client = client_for(person)
        page = text_of(client.get(url()))
        assert "Issue refund" in page and "Run after an agent approves" in page
        assert "Install built-in actions" not in page and "Save approvers" not in page
        assert "Rotate the secret" not in page
        assert '<form method="post"' not in page.split("<main", 1)[1]  # only the header's log out
        detail = text_of(client.get(url(f"{refund.pk}/")))
        assert "Only admins change actions." in detail and "<textarea" not in detail
        assert '"maximum": 10000' in detail


@pytest.mark.parametrize(
    "path",
    [
        "templates/install/",
        "approvers/",
        "webhook-secret/rotate/",
        "new/",
        "{id}/edit/",
        "{id}/enabled/",
        "{id}/delete/",
    ],
)
def test_a_forged_post_from_an_agent_or_viewer_is_forbidden_and_changes_nothing(
    workspace, agent, viewer, path
):
    refund = installed(workspace)["issue_refund"]
    before = AuditEntry.objects.count()
    for person in (agent, viewer):
        response = client_for(person).post(
            url(path.format(id=refund.pk)),
            {**action_form(refund, policy="never"), "enabled": "true", **approvers_form(workspace)},
        )
        assert response.status_code == 403
        assert "This page is for Admin" in text_of(response)
    refund.refresh_from_db()
    assert refund.policy == ActionPolicy.APPROVAL
    assert not ActionWebhookSecret.objects.exists()
    assert AuditEntry.objects.count() == before


def test_another_workspaces_actions_are_not_found(workspace, admin, other_workspace, outsider):
    foreign = installed(other_workspace)["issue_refund"]
    client = client_for(admin)

    assert client.get(url(f"{foreign.pk}/")).status_code == 404
    assert client.post(url(f"{foreign.pk}/edit/"), action_form(foreign)).status_code == 404
    assert client.post(url(f"{foreign.pk}/enabled/"), {"enabled": "false"}).status_code == 404
    assert client.post(url(f"{foreign.pk}/delete/")).status_code == 404
    assert client_for(outsider).get(url()).status_code == 404
    assert client_for(outsider).get(url("requests/")).status_code == 404
    assert Action.objects.filter(pk=foreign.pk).exists()


def test_the_actions_section_is_in_the_navigation_and_built(admin):
    page = text_of(client_for(admin).get(url()))

    assert re.search(r'<a href="/w/acme/actions/" aria-current="page">Actions</a>', page)
    assert "This page is not built yet" not in page


def test_an_edit_without_the_version_it_started_from_is_refused(workspace, admin):
    refund = installed(workspace)["issue_refund"]

    response = client_for(admin).post(
        url(f"{refund.pk}/edit/"), action_form(refund, loaded_at=None, policy="never")
    )

    assert response.status_code == 400
    assert "The form is damaged: reload the page." in text_of(response)
    refund.refresh_from_db()
    assert refund.policy == ActionPolicy.APPROVAL
