"""A flow's Rules page: the ordered rules of the draft, and (admins only) adding, editing,
reordering, switching off and deleting them through forms, with errors next to their fields,
audit entries, and no silent overwrite of another admin's change."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from console.models import AuditEntry
from routing.models import Queue, SupportFlow
from routing.services import flow_rules_update
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

PORTUGUESE_ENTERPRISE = {
    "name": "Upset Portuguese enterprise customers",
    "enabled": True,
    "match": "all",
    "conditions": [
        {"fact": "language", "op": "eq", "value": "pt"},
        {"fact": "customer_plan", "op": "eq", "value": "enterprise"},
        {"fact": "sentiment_score", "op": "lte", "value": -0.2},
    ],
    "action": {"type": "handoff", "queue": "Tier 2", "priority": "high"},
}
REFUNDS = {
    "name": "Refunds",
    "enabled": True,
    "match": "any",
    "conditions": [{"fact": "message", "op": "contains_any", "value": ["refund"]}],
    "action": {"type": "handoff", "queue": "Tier 1", "priority": "normal"},
}
VIP = {
    "name": "VIP",
    "enabled": True,
    "match": "all",
    "conditions": [{"fact": "customer_plan", "op": "in", "value": ["vip"]}],
    "action": {"type": "tag", "text": "vip"},
}


@pytest.fixture
def flow(workspace) -> SupportFlow:
    return workspace.flows.get()


@pytest.fixture
def three_rules(flow, admin) -> SupportFlow:
    return flow_rules_update(
        flow=flow,
        rules=[REFUNDS, VIP, PORTUGUESE_ENTERPRISE],
        expected_revision=flow.draft_revision,
    )


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def rules_url(flow) -> str:
    return f"/w/acme/flows/{flow.pk}/rules/"


def fresh(flow) -> SupportFlow:
    return SupportFlow.objects.get(pk=flow.pk)


def rule_names(flow) -> list[str]:
    return [rule["name"] for rule in fresh(flow).rules]


def rule_form(
    flow,
    *,
    name: str = "A rule",
    conditions: list[dict[str, str]] | None = None,
    action: dict[str, str] | None = None,
    match: str = "all",
    enabled: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """What the rule form posts: conditions as rows of fact, op, key, value."""
    data: dict[str, Any] = {
        "revision": fresh(flow).draft_revision,
        "name": name,
        "match": match,
        **{
            f"action_{part}": value
            for part, value in (action or {"type": "handoff", "queue": "Tier 2"}).items()
        },
        **extra,
    }
    if enabled:
        data["enabled"] = "on"
    rows = (
        conditions if conditions is not None else [{"fact": "language", "op": "eq", "value": "pt"}]
    )
    for number, row in enumerate(rows, start=1):
        for part, value in row.items():
            data[f"condition-{number}-{part}"] = value
    return data


def field_errors(page: str, field_id: str) -> str:
    """The error list Django links to a field (`<id>_error`), as text."""
    found = re.search(
        rf'<ul class="errors" id="{re.escape(field_id)}_error"[^>]*>(.*?)</ul>', page, re.S
    )
    return re.sub(r"<[^>]+>", " ", found.group(1)) if found else ""


def tag_with_id(page: str, element_id: str) -> str:
    return found(rf'<[^<>]*\bid="{re.escape(element_id)}"[^<>]*>', page)


def found(pattern: str, page: str, group: int = 0) -> str:
    match = re.search(pattern, page, re.S)
    assert match, pattern
    return match.group(group)


# --- the page and its navigation -----------------------------------------------------------


def test_rules_in_the_navigation_open_the_first_flows_rules(viewer, flow):
    client = client_for(viewer)

    response = client.get("/w/acme/rules/")
    page = text_of(client.get(response["Location"]))

    assert response.status_code == 302 and response["Location"] == rules_url(flow)
    assert "<h1>Rules</h1>" in page
    assert 'href="/w/acme/rules/" aria-current="true">Rules<' in page  # the section is marked
    assert "soon" not in page.split('href="/w/acme/rules/"')[1].split("</a>")[0]
    assert f'href="{rules_url(flow)}" aria-current="page">Rules</a>' in page  # the flow's tab


@pytest.mark.parametrize("user", ["viewer", "agent"])
def test_agents_and_viewers_see_the_rules_in_order_without_controls(request, three_rules, user):
    page = text_of(client_for(request.getfixturevalue(user)).get(rules_url(three_rules)))

    names = [page.index(str(rule["name"])) for rule in (REFUNDS, VIP, PORTUGUESE_ENTERPRISE)]
    assert names == sorted(names)
    assert "language is “pt”" in page and "sentiment score is at most -0.2" in page
    assert "Hand off to Tier 2 (high priority)" in page
    assert "Only admins change the rules." in page
    for control in ("Add a rule", "Move up", "Move down", "Switch off", "Delete", "Edit"):
        assert control not in page
    assert "draggable" not in page and "rules.js" not in page


def test_admin_sees_each_rules_controls_and_the_drag_handles(admin, three_rules):
    page = text_of(client_for(admin).get(rules_url(three_rules)))

    assert "Add a rule" in page and 'draggable="true"' in page and "js/rules.js" in page
    assert page.count(">Move up<") == 3 and page.count(">Switch off<") == 3
    # The first rule cannot move up, the last cannot move down.
    assert "disabled" in tag_with_id(page, "rule-1-up")
    assert "disabled" in tag_with_id(page, "rule-3-down")
    assert "disabled" not in tag_with_id(page, "rule-1-down")
    assert 'id="rules-order-form"' in page


def test_a_flow_without_rules_says_so(admin, flow):
    page = text_of(client_for(admin).get(rules_url(flow)))

    assert "No rules yet" in page and "(0)" in page


# --- who may do what -----------------------------------------------------------------------


def writes(flow) -> list[tuple[str, dict[str, Any]]]:
    revision = fresh(flow).draft_revision
    return [
        (f"{rules_url(flow)}new/", rule_form(flow, name="Sneaky")),
        (f"{rules_url(flow)}1/edit/", rule_form(flow, name="Sneaky")),
        (f"{rules_url(flow)}1/move/", {"revision": revision, "direction": "down"}),
        (f"{rules_url(flow)}1/switch/", {"revision": revision, "enabled": "off"}),
        (f"{rules_url(flow)}1/delete/", {"revision": revision}),
        (f"{rules_url(flow)}order/", {"revision": revision, "order": ["3", "2", "1"]}),
    ]


@pytest.mark.parametrize("user", ["viewer", "agent"])
def test_agents_and_viewers_cannot_change_rules_even_with_a_forged_post(request, three_rules, user):
    client = client_for(request.getfixturevalue(user))
    before = fresh(three_rules).rules

    for url, data in writes(three_rules):
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert "This page is for Admin of Acme" in text_of(response)
    assert client.get(f"{rules_url(three_rules)}new/").status_code == 403
    assert client.get(f"{rules_url(three_rules)}1/edit/").status_code == 403
    assert fresh(three_rules).rules == before
    assert not AuditEntry.objects.filter(area="rules", user__isnull=False).exists()


def test_another_workspaces_admin_gets_404_for_every_rules_page(outsider, three_rules):
    client = client_for(outsider)

    assert client.get("/w/acme/rules/").status_code == 404
    assert client.get(rules_url(three_rules)).status_code == 404
    assert client.get(f"{rules_url(three_rules)}1/edit/").status_code == 404
    for url, data in writes(three_rules):
        assert client.post(url, data).status_code == 404, url
    assert len(fresh(three_rules).rules) == 3


def test_a_flow_of_another_workspace_is_404_for_an_admin_of_this_one(
    admin, outsider, other_workspace
):
    foreign = other_workspace.flows.get()
    client = client_for(admin)

    assert client.get(rules_url(foreign)).status_code == 404
    assert client.get(f"{rules_url(foreign)}new/").status_code == 404
    assert client.post(f"{rules_url(foreign)}new/", rule_form(foreign)).status_code == 404
    assert fresh(foreign).rules == []


def test_a_rule_position_that_does_not_exist_is_404(admin, three_rules):
    client = client_for(admin)
    revision = three_rules.draft_revision

    assert client.get(f"{rules_url(three_rules)}4/edit/").status_code == 404
    assert client.get(f"{rules_url(three_rules)}0/edit/").status_code == 404
    assert (
        client.post(f"{rules_url(three_rules)}9/delete/", {"revision": revision}).status_code == 404
    )
    assert len(fresh(three_rules).rules) == 3


# --- adding a rule -------------------------------------------------------------------------


def test_the_add_form_offers_every_fact_the_queues_and_the_priorities(admin, flow):
    page = text_of(client_for(admin).get(f"{rules_url(flow)}new/"))

    assert '<h2 id="rule-form-heading">Add a rule</h2>' in page
    for label in (
        "Language",
        "Customer plan",
        "Customer attribute",
        "Sentiment score",
        "Frustration signal",
        "Asks for a human",
        "Message text",
        "Retrieval confidence",
        "Turns in the conversation",
        "Repeated questions",
        "Within business hours",
    ):
        assert f">{label}</option>" in page
    assert '<option value="Tier 1">Tier 1</option>' in page
    assert '<option value="Tier 2">Tier 2</option>' in page
    assert 'name="enabled" id="id_enabled" checked' in page or re.search(
        r'name="enabled"[^>]*checked', page
    )
    assert "<legend>Condition 1</legend>" in page


def test_admin_adds_a_rule_with_every_kind_of_condition(admin, flow):
    client = client_for(admin)
    conditions = [
        {"fact": "language", "op": "eq", "value": "pt"},
        {"fact": "customer_plan", "op": "in", "value": "enterprise, business ,"},
        {"fact": "sentiment_score", "op": "lt", "value": "\u22120.2"},
        {"fact": "retrieval_confidence", "op": "gte", "value": "0,5"},
        {"fact": "turns", "op": "gte", "value": "3"},
        {"fact": "signal", "op": "present", "value": "third_time"},
        {"fact": "wants_human", "op": "is", "value": "yes"},
        {"fact": "business_hours", "op": "is", "value": "no"},
        {"fact": "message", "op": "contains_any", "value": "refund, chargeback"},
        {"fact": "customer_attribute", "op": "eq", "key": "region", "value": "EU"},
        {"fact": "customer_attribute", "op": "exists", "key": "account_id"},
    ]

    response = client.post(
        f"{rules_url(flow)}new/",
        rule_form(
            flow,
            name="Everything",
            conditions=conditions,
            action={"type": "handoff", "queue": "Tier 2", "priority": "high"},
        ),
    )

    assert response.status_code == 302 and response["Location"] == f"{rules_url(flow)}#rule-1"
    assert fresh(flow).rules == [
        {
            "name": "Everything",
            "enabled": True,
            "match": "all",
            "conditions": [
                {"fact": "language", "op": "eq", "value": "pt"},
                {"fact": "customer_plan", "op": "in", "value": ["enterprise", "business"]},
                {"fact": "sentiment_score", "op": "lt", "value": -0.2},
                {"fact": "retrieval_confidence", "op": "gte", "value": 0.5},
                {"fact": "turns", "op": "gte", "value": 3},
                {"fact": "signal", "op": "present", "value": "third_time"},
                {"fact": "wants_human", "op": "is", "value": True},
                {"fact": "business_hours", "op": "is", "value": False},
                {"fact": "message", "op": "contains_any", "value": ["refund", "chargeback"]},
                {"fact": "customer_attribute", "op": "eq", "key": "region", "value": "EU"},
                {"fact": "customer_attribute", "op": "exists", "key": "account_id"},
            ],
            "action": {"type": "handoff", "queue": "Tier 2", "priority": "high"},
        }
    ]
    page = text_of(client.get(response["Location"]))
    assert "Added the rule “Everything”." in page
    assert "customer plan is one of “enterprise” or “business”" in page
    assert "the “third_time” signal is present" in page
    assert "customer attribute “account_id” is set" in page


@pytest.mark.parametrize(
    ("action", "stored"),
    [
        ({"type": "reply", "text": " We are on it. "}, {"type": "reply", "text": "We are on it."}),
        ({"type": "tag", "text": "vip"}, {"type": "tag", "text": "vip"}),
        ({"type": "answer"}, {"type": "answer"}),
        (
            {"type": "handoff", "queue": "Tier 1"},
            {"type": "handoff", "queue": "Tier 1", "priority": "normal"},
        ),
    ],
)
def test_each_action_is_saved(admin, flow, action, stored):
    response = client_for(admin).post(f"{rules_url(flow)}new/", rule_form(flow, action=action))

    assert response.status_code == 302
    assert fresh(flow).rules[0]["action"] == stored


def test_a_new_rule_is_added_last_and_can_be_saved_switched_off(admin, three_rules):
    response = client_for(admin).post(
        f"{rules_url(three_rules)}new/", rule_form(three_rules, name="Late", enabled=False)
    )

    assert response["Location"].endswith("#rule-4")
    assert rule_names(three_rules)[-1] == "Late"
    assert fresh(three_rules).rules[-1]["enabled"] is False


INVALID = [
    # (what the admin sent, the field that says what is wrong, what it says)
    ({"name": ""}, "id_name", "Give the rule a name."),
    ({"name": "x" * 121}, "id_name", "At most 120 characters"),
    ({"name": "refunds"}, "id_name", "Another rule is already named “refunds”"),
    ({"conditions": []}, "id_conditions", "A rule needs at least one condition"),
    ({"conditions": [{"fact": ""}]}, "id_condition-1-fact", "Choose a fact."),
    (
        {"conditions": [{"fact": "colour", "op": "eq", "value": "red"}]},
        "id_condition-1-fact",
        "Choose a fact from the list.",
    ),
    (
        {"conditions": [{"fact": "sentiment_score", "op": "eq", "value": "0"}]},
        "id_condition-1-op",
        "Sentiment score takes only the comparisons in the list.",
    ),
    (
        {"conditions": [{"fact": "sentiment_score", "op": "lt", "value": "very"}]},
        "id_condition-1-value",
        "Write a number, such as -0.2.",
    ),
    (
        {"conditions": [{"fact": "sentiment_score", "op": "lt", "value": ""}]},
        "id_condition-1-value",
        "Give a number",
    ),
    (
        {"conditions": [{"fact": "sentiment_score", "op": "lt", "value": "nan"}]},
        "id_condition-1-value",
        "Write a number",
    ),
    (
        {"conditions": [{"fact": "sentiment_score", "op": "lt", "value": "1e999"}]},
        "id_condition-1-value",
        "Write a number",
    ),
    (
        {"conditions": [{"fact": "sentiment_score", "op": "lt", "value": "-3"}]},
        "id_condition-1-value",
        "runs from \u22121 to 1",
    ),
    (
        {"conditions": [{"fact": "retrieval_confidence", "op": "lt", "value": "1.5"}]},
        "id_condition-1-value",
        "runs from 0 to 1",
    ),
    (
        {"conditions": [{"fact": "turns", "op": "gt", "value": "2.5"}]},
        "id_condition-1-value",
        "Write a whole number",
    ),
    (
        {"conditions": [{"fact": "turns", "op": "gt", "value": "-1"}]},
        "id_condition-1-value",
        "cannot be below 0",
    ),
    (
        {"conditions": [{"fact": "wants_human", "op": "is", "value": ""}]},
        "id_condition-1-value",
        "Choose yes or no.",
    ),
    (
        {"conditions": [{"fact": "wants_human", "op": "is", "value": "maybe"}]},
        "id_condition-1-value",
        "Choose one of the values in the list.",
    ),
    (
        {"conditions": [{"fact": "signal", "op": "present", "value": "sneezing"}]},
        "id_condition-1-value",
        "Choose one of the values in the list.",
    ),
    (
        {"conditions": [{"fact": "signal", "op": "present", "value": ""}]},
        "id_condition-1-value",
        "Choose a signal.",
    ),
    (
        {"conditions": [{"fact": "language", "op": "eq", "value": "  "}]},
        "id_condition-1-value",
        "Give the language code",
    ),
    (
        {"conditions": [{"fact": "language", "op": "eq", "value": "p" * 201}]},
        "id_condition-1-value",
        "At most 200 characters",
    ),
    (
        {"conditions": [{"fact": "customer_plan", "op": "not_in", "value": " , ,"}]},
        "id_condition-1-value",
        "Give one or more values",
    ),
    (
        {"conditions": [{"fact": "customer_plan", "op": "in", "value": "a, " + "b" * 201}]},
        "id_condition-1-value",
        "Each value is at most 200",
    ),
    (
        {"conditions": [{"fact": "message", "op": "contains_all", "value": ""}]},
        "id_condition-1-value",
        "Give one or more words or phrases",
    ),
    (
        {"conditions": [{"fact": "customer_attribute", "op": "eq", "key": "", "value": "EU"}]},
        "id_condition-1-key",
        "Name the customer attribute",
    ),
    (
        {"conditions": [{"fact": "customer_attribute", "op": "exists", "key": " "}]},
        "id_condition-1-key",
        "Name the customer attribute",
    ),
    (
        {
            "conditions": [
                {"fact": "language", "op": "eq", "value": "pt"},
                {"fact": "turns", "op": "gt", "value": "many"},
            ]
        },
        "id_condition-2-value",
        "Write a number, such as 3.",
    ),
    (
        {"action": {"type": "handoff", "queue": ""}},
        "id_action_queue",
        "Choose the queue to hand off to.",
    ),
    (
        {"action": {"type": "handoff", "queue": "Tier 9"}},
        "id_action_queue",
        "That queue does not exist",
    ),
    (
        {"action": {"type": "handoff", "queue": "Tier 2", "priority": "asap"}},
        "id_action_priority",
        "Choose normal, high or urgent.",
    ),
    ({"action": {"type": "reply", "text": "   "}}, "id_action_text", "Write the reply."),
    ({"action": {"type": "tag", "text": ""}}, "id_action_text", "Write the tag"),
    (
        {"action": {"type": "reply", "text": "x" * 2001}},
        "id_action_text",
        "At most 2000 characters",
    ),
    ({"action": {"type": "explode"}}, "id_action_type", "Choose an action."),
    ({"match": "most"}, "id_match", "Select a valid choice"),
]


@pytest.mark.parametrize(("sent", "field_id", "message"), INVALID)
def test_invalid_input_is_refused_next_to_its_field_and_nothing_is_saved(
    admin, three_rules, sent, field_id, message
):
    before = fresh(three_rules)

    response = client_for(admin).post(
        f"{rules_url(three_rules)}new/", rule_form(three_rules, **sent)
    )

    page = text_of(response)
    assert response.status_code == 400
    assert message in field_errors(page, field_id), page
    if field_id != "id_conditions":  # the conditions as a whole are a group, not a control
        control = tag_with_id(page, field_id)
        assert 'aria-invalid="true"' in control and f"{field_id}_error" in control
    after = fresh(three_rules)
    assert (after.rules, after.draft_revision) == (before.rules, before.draft_revision)
    assert "Save the rule" in page  # the form is still there to correct


def test_a_refused_form_keeps_everything_the_admin_typed(admin, flow):
    data = rule_form(
        flow,
        name="Keep me",
        conditions=[
            {"fact": "customer_plan", "op": "in", "value": "enterprise, business"},
            {"fact": "sentiment_score", "op": "lt", "value": "oops"},
        ],
        action={"type": "handoff", "queue": "Tier 2", "priority": "urgent"},
        match="any",
    )

    page = text_of(client_for(admin).post(f"{rules_url(flow)}new/", data))

    assert 'value="Keep me"' in page
    assert 'value="enterprise, business"' in page and 'value="oops"' in page
    assert '<option value="in" selected>' in page
    assert '<option value="Tier 2" selected>' in page and '<option value="urgent" selected>' in page
    assert '<option value="any" selected>' in page


def test_more_than_twenty_conditions_are_refused(admin, flow):
    rows = [{"fact": "turns", "op": "gt", "value": str(n)} for n in range(21)]

    response = client_for(admin).post(f"{rules_url(flow)}new/", rule_form(flow, conditions=rows))

    assert response.status_code == 400
    assert "A rule has at most 20 conditions." in field_errors(text_of(response), "id_conditions")
    assert fresh(flow).rules == []


def test_a_page_without_its_revision_is_told_to_reload(admin, flow):
    data = rule_form(flow)
    del data["revision"]

    response = client_for(admin).post(f"{rules_url(flow)}new/", data)

    assert response.status_code == 400
    assert "This page is out of date: reload it and try again." in text_of(response)
    assert fresh(flow).rules == []


def test_a_rule_the_draft_already_had_that_is_no_longer_valid_is_named_on_top(admin, flow):
    # A stored rule handing off to a queue that no longer exists (changed behind the console).
    SupportFlow.objects.filter(pk=flow.pk).update(
        rules=[{**REFUNDS, "action": {"type": "handoff", "queue": "Gone", "priority": "normal"}}]
    )

    response = client_for(admin).post(f"{rules_url(flow)}new/", rule_form(flow, name="New"))

    assert response.status_code == 400
    assert "Rule 1: Hand off to one of the queues, not 'Gone'." in text_of(response)
    assert rule_names(flow) == ["Refunds"]


# --- the form follows the chosen facts -----------------------------------------------------


def test_add_condition_rebuilds_the_form_with_one_more_row_and_saves_nothing(admin, flow):
    data = rule_form(flow, name="Growing", _change="add")

    response = client_for(admin).post(f"{rules_url(flow)}new/", data)

    page = text_of(response)
    assert response.status_code == 200 and fresh(flow).rules == []
    assert "<legend>Condition 2</legend>" in page and 'value="Growing"' in page
    assert "autofocus" in tag_with_id(page, "id_condition-2-fact")
    assert "<html" in page  # without htmx: the whole page
    assert 'class="errors"' not in page  # a rule still being written is not judged yet


def test_with_htmx_only_the_form_is_swapped_and_the_change_is_announced(admin, flow):
    data = rule_form(
        flow,
        conditions=[{"fact": "language", "op": "eq", "value": "pt"}, {"fact": "turns"}],
        _change="remove-1",
    )

    response = client_for(admin).post(f"{rules_url(flow)}new/", data, HTTP_HX_REQUEST="true")

    page = text_of(response)
    assert "<html" not in page and 'id="rule-form"' in page
    assert len(re.findall(r"<legend>Condition \d", page)) == 1
    assert 'name="condition-1-fact"' in page and '<option value="turns" selected>' in page
    assert "autofocus" in tag_with_id(page, "add-condition")
    assert 'hx-swap-oob="true">Condition 1 removed; 1 left.</div>' in page


def test_choosing_a_fact_offers_only_its_comparisons_and_the_right_value_input(admin, flow):
    data = rule_form(
        flow, conditions=[{"fact": "sentiment_score", "op": "contains_any"}], _change="refresh"
    )

    page = text_of(client_for(admin).post(f"{rules_url(flow)}new/", data, HTTP_HX_REQUEST="true"))

    ops = found(r'<select name="condition-1-op".*?</select>', page)
    assert re.findall(r'<option value="(\w+)"', ops) == ["lt", "lte", "gt", "gte"]
    assert '<option value="lt" selected>' in ops  # the old comparison did not fit: the first one
    assert re.search(
        r'<input type="number" name="condition-1-value"[^>]*step="any"[^>]*min="-1\.0"', page
    )
    assert "From \u22121 (very negative) to 1 (very positive)" in page
    # Choosing another fact or comparison rebuilds the form at once.
    fact_select = tag_with_id(page, "id_condition-1-fact")
    assert 'hx-trigger="change"' in fact_select and '"_change": "refresh"' in fact_select
    assert 'hx-select="#condition-1"' in fact_select  # only the row is swapped


@pytest.mark.parametrize(
    ("fact", "op", "expected"),
    [
        (
            "signal",
            "present",
            '<option value="third_time">Says it is not the first time they ask</option>',
        ),
        ("wants_human", "is", '<option value="yes">Yes</option>'),
        ("customer_plan", "in", "For “is one of” or “is none of”, separate several with commas."),
        ("message", "contains_any", '<label for="id_condition-1-value">Words or phrases</label>'),
        ("language", "eq", 'list="rule-languages"'),
        ("turns", "gte", 'step="1"'),
        ("customer_attribute", "eq", '<label for="id_condition-1-key">Attribute name</label>'),
    ],
)
def test_each_kind_of_fact_gets_its_own_value_input(admin, flow, fact, op, expected):
    data = rule_form(flow, conditions=[{"fact": fact, "op": op}], _change="refresh")

    assert expected in text_of(client_for(admin).post(f"{rules_url(flow)}new/", data))


def test_an_attribute_that_only_has_to_exist_has_no_value_input(admin, flow):
    data = rule_form(
        flow,
        conditions=[{"fact": "customer_attribute", "op": "exists", "key": "id"}],
        _change="refresh",
    )

    page = text_of(client_for(admin).post(f"{rules_url(flow)}new/", data))

    assert 'name="condition-1-key"' in page and 'name="condition-1-value"' not in page


def test_the_action_shows_the_fields_it_needs(admin, flow):
    client = client_for(admin)

    def shown(action: dict[str, str]) -> str:
        data = rule_form(flow, action=action, _change="refresh")
        return text_of(client.post(f"{rules_url(flow)}new/", data))

    handoff, reply, tag, answer = (
        shown({"type": kind}) for kind in ("handoff", "reply", "tag", "answer")
    )
    assert 'name="action_queue"' in handoff and 'name="action_priority"' in handoff
    assert "<textarea" in reply and ">Reply text</label>" in reply
    assert ">Tag</label>" in tag and 'name="action_queue"' not in tag
    assert 'name="action_text"' not in answer and 'name="action_queue"' not in answer


# --- editing -------------------------------------------------------------------------------


def test_the_edit_form_shows_the_rule_as_saved(admin, three_rules):
    page = text_of(client_for(admin).get(f"{rules_url(three_rules)}3/edit/"))

    assert "Edit the rule “Upset Portuguese enterprise customers”" in page
    assert 'value="Upset Portuguese enterprise customers"' in page
    assert 'value="-0.2"' in page and '<option value="lte" selected>' in page
    assert '<option value="Tier 2" selected>' in page and '<option value="high" selected>' in page
    assert len(re.findall(r"<legend>Condition \d", page)) == 3
    # The list is there for reference, without its controls.
    assert "Rules of the draft" in page and "Move up" not in page


def test_admin_edits_a_rule_in_place_and_the_change_is_audited(admin, three_rules):
    data = rule_form(
        three_rules,
        name="VIP customers",
        conditions=[{"fact": "customer_plan", "op": "in", "value": "vip, platinum"}],
        action={"type": "handoff", "queue": "Tier 2", "priority": "urgent"},
        original_name="VIP",
    )

    response = client_for(admin).post(f"{rules_url(three_rules)}2/edit/", data)

    assert response.status_code == 302 and response["Location"].endswith("#rule-2")
    assert rule_names(three_rules) == ["Refunds", "VIP customers", PORTUGUESE_ENTERPRISE["name"]]
    entries = {e.field: e for e in AuditEntry.objects.filter(area="rules", user=admin)}
    assert entries["rule 'VIP'"].old_value == VIP and entries["rule 'VIP'"].new_value is None
    assert (entries["rule 'VIP customers'"].new_value or {})["action"]["priority"] == "urgent"
    assert entries["rule 'VIP customers'"].old_value is None


def test_a_rule_keeps_its_own_name_when_edited(admin, three_rules):
    data = rule_form(three_rules, name="VIP", original_name="VIP", match="any")

    response = client_for(admin).post(f"{rules_url(three_rules)}2/edit/", data)

    assert response.status_code == 302
    assert fresh(three_rules).rules[1]["match"] == "any"


# --- the list's actions --------------------------------------------------------------------


def test_reorder_by_post_saves_the_new_order_and_audits_it(admin, three_rules):
    response = client_for(admin).post(
        f"{rules_url(three_rules)}order/",
        {"revision": three_rules.draft_revision, "order": ["3", "1", "2"]},
    )

    assert response.status_code == 302
    assert rule_names(three_rules) == [PORTUGUESE_ENTERPRISE["name"], "Refunds", "VIP"]
    entry = AuditEntry.objects.get(area="rules", user=admin)
    assert entry.field == "rule order"
    assert entry.old_value == ["Refunds", "VIP", PORTUGUESE_ENTERPRISE["name"]]
    assert entry.new_value == [PORTUGUESE_ENTERPRISE["name"], "Refunds", "VIP"]


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ([], "Send the new order of the rules."),
        (["1", "2"], "Send every rule exactly once"),
        (["1", "1", "2"], "Send every rule exactly once"),
        (["1", "2", "4"], "The order names a rule that is not in the draft."),
        (["1", "2", "x"], "The order names a rule that is not in the draft."),
        (["1", "2", "3", "3"], "Send every rule exactly once"),
    ],
)
def test_a_wrong_order_is_refused_and_changes_nothing(admin, three_rules, order, message):
    response = client_for(admin).post(
        f"{rules_url(three_rules)}order/", {"revision": three_rules.draft_revision, "order": order}
    )

    assert response.status_code == 400
    assert message in text_of(response)
    assert rule_names(three_rules) == ["Refunds", "VIP", PORTUGUESE_ENTERPRISE["name"]]


def test_move_up_keeps_the_focus_on_the_moved_rules_button(admin, three_rules):
    client = client_for(admin)

    response = client.post(
        f"{rules_url(three_rules)}3/move/",
        {"revision": three_rules.draft_revision, "direction": "up"},
    )
    page = text_of(client.get(response["Location"]))

    assert response["Location"] == f"{rules_url(three_rules)}?focus=rule-2-up#rule-2"
    assert rule_names(three_rules) == ["Refunds", PORTUGUESE_ENTERPRISE["name"], "VIP"]
    assert "autofocus" in tag_with_id(page, "rule-2-up")
    assert f"Moved “{PORTUGUESE_ENTERPRISE['name']}” to position 2." in page


def test_a_rule_moved_to_the_top_keeps_the_focus_on_its_other_button(admin, three_rules):
    client = client_for(admin)
    client.post(
        f"{rules_url(three_rules)}2/move/",
        {"revision": three_rules.draft_revision, "direction": "up"},
    )

    response = client.post(
        f"{rules_url(three_rules)}1/move/",
        {"revision": fresh(three_rules).draft_revision, "direction": "down"},
        HTTP_HX_REQUEST="true",
    )

    page = text_of(response)
    assert rule_names(three_rules) == ["Refunds", "VIP", PORTUGUESE_ENTERPRISE["name"]]
    assert "<html" not in page and 'id="rules-region"' in page  # htmx: the list alone
    assert "autofocus" in tag_with_id(page, "rule-2-down")
    assert 'hx-swap-oob="true">Moved “VIP” to position 2.</div>' in page


def test_moving_the_first_rule_up_is_refused(admin, three_rules):
    response = client_for(admin).post(
        f"{rules_url(three_rules)}1/move/",
        {"revision": three_rules.draft_revision, "direction": "up"},
    )

    assert response.status_code == 400
    assert "“Refunds” is already first." in text_of(response)
    assert fresh(three_rules).draft_revision == three_rules.draft_revision


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("1/move/", {"direction": "sideways"}),
        ("1/move/", {}),
        ("1/switch/", {"enabled": "maybe"}),
    ],
)
def test_a_malformed_list_action_is_refused(admin, three_rules, url, data):
    response = client_for(admin).post(
        f"{rules_url(three_rules)}{url}", {"revision": three_rules.draft_revision, **data}
    )

    assert response.status_code == 400
    assert re.search(r"Move up or down\?|Switch on or off\?", text_of(response))
    assert fresh(three_rules).rules == three_rules.rules


def test_switching_a_rule_off_keeps_it_and_audits_the_change(admin, three_rules):
    client = client_for(admin)

    response = client.post(
        f"{rules_url(three_rules)}1/switch/",
        {"revision": three_rules.draft_revision, "enabled": "off"},
    )
    page = text_of(client.get(response["Location"]))

    assert fresh(three_rules).rules[0] == {**REFUNDS, "enabled": False}
    assert "Switched off “Refunds”: it is kept, but no message is routed by it." in page
    assert 'Refunds <span class="badge">switched off</span>' in page
    assert "autofocus" in tag_with_id(page, "rule-1-switch")
    assert 'id="rule-1-switch"' in page.split(">Switch on<")[0].rsplit("<button", 1)[1]
    entry = AuditEntry.objects.get(area="rules", user=admin)
    old, new = entry.old_value or {}, entry.new_value or {}
    assert (entry.field, old["enabled"], new["enabled"]) == (
        "rule 'Refunds'",
        True,
        False,
    )

    client.post(
        f"{rules_url(three_rules)}1/switch/",
        {"revision": fresh(three_rules).draft_revision, "enabled": "on"},
    )
    assert fresh(three_rules).rules[0]["enabled"] is True


def test_deleting_a_rule_removes_it_and_audits_the_old_rule(admin, three_rules):
    client = client_for(admin)

    response = client.post(
        f"{rules_url(three_rules)}2/delete/", {"revision": three_rules.draft_revision}
    )
    page = text_of(client.get(response["Location"]))

    assert rule_names(three_rules) == ["Refunds", PORTUGUESE_ENTERPRISE["name"]]
    assert "Deleted the rule “VIP”." in page
    entry = AuditEntry.objects.get(area="rules", user=admin)
    assert (entry.field, entry.old_value, entry.new_value) == ("rule 'VIP'", VIP, None)


# --- two admins at once --------------------------------------------------------------------


def test_a_list_action_on_a_changed_draft_is_refused_and_shows_the_current_list(admin, three_rules):
    stale = three_rules.draft_revision
    flow_rules_update(flow=three_rules, rules=[VIP, REFUNDS], expected_revision=stale)

    response = client_for(admin).post(f"{rules_url(three_rules)}1/delete/", {"revision": stale})

    page = text_of(response)
    assert response.status_code == 409
    assert "Someone else changed this draft since you opened it, so nothing was changed." in page
    assert rule_names(three_rules) == ["VIP", "Refunds"]
    assert page.index("VIP") < page.index("Refunds")  # the list as it is now


def test_a_stale_htmx_list_action_shows_the_message_in_the_list(admin, three_rules):
    stale = three_rules.draft_revision
    flow_rules_update(flow=three_rules, rules=[VIP], expected_revision=stale)

    response = client_for(admin).post(
        f"{rules_url(three_rules)}order/",
        {"revision": stale, "order": ["2", "1"]},
        HTTP_HX_REQUEST="true",
    )

    page = text_of(response)
    assert response.status_code == 200  # htmx swaps only successful responses
    assert 'role="alert"' in page and "Someone else changed this draft" in page
    assert rule_names(three_rules) == ["VIP"]


def test_saving_a_rule_over_another_admins_change_keeps_the_form_and_overwrites_nothing(
    admin, three_rules
):
    client = client_for(admin)
    opened = text_of(client.get(f"{rules_url(three_rules)}2/edit/"))
    revision = int(found(r'name="revision" value="(\d+)"', opened, 1))
    # Meanwhile another admin puts a new rule first: "VIP" is now the third rule.
    flow_rules_update(
        flow=three_rules,
        rules=[{**REFUNDS, "name": "Chargebacks"}, REFUNDS, VIP, PORTUGUESE_ENTERPRISE],
        expected_revision=revision,
    )
    data = rule_form(three_rules, name="VIP, renamed", original_name="VIP", revision=revision)

    response = client.post(f"{rules_url(three_rules)}2/edit/", data)

    page = text_of(response)
    assert response.status_code == 409
    assert "Someone else changed this draft since you opened it." in page
    assert 'value="VIP, renamed"' in page  # what the admin typed is kept
    assert rule_names(three_rules) == [
        "Chargebacks",
        "Refunds",
        "VIP",
        PORTUGUESE_ENTERPRISE["name"],
    ]
    # Saving again, knowingly, applies the admin's version to the rule where it is now.
    action = found(r'<form method="post" action="([^"]+)" id="rule-form"', page, 1)
    again = dict(data, revision=found(r'name="revision" value="(\d+)"', page, 1))
    assert action == f"{rules_url(three_rules)}3/edit/"
    assert client.post(action, again).status_code == 302
    assert rule_names(three_rules) == [
        "Chargebacks",
        "Refunds",
        "VIP, renamed",
        PORTUGUESE_ENTERPRISE["name"],
    ]


def test_editing_a_rule_someone_deleted_offers_to_add_it_again(admin, three_rules):
    revision = three_rules.draft_revision
    flow_rules_update(flow=three_rules, rules=[REFUNDS], expected_revision=revision)
    data = rule_form(three_rules, name="VIP", original_name="VIP", revision=revision)

    response = client_for(admin).post(f"{rules_url(three_rules)}2/edit/", data)

    page = text_of(response)
    assert response.status_code == 409
    assert "The rule you were editing is no longer in the draft" in page
    assert f'action="{rules_url(three_rules)}new/" id="rule-form"' in page
    assert rule_names(three_rules) == ["Refunds"]


def test_adding_a_rule_to_a_changed_draft_keeps_the_form(admin, flow):
    data = rule_form(flow, name="Mine")
    flow_rules_update(flow=flow, rules=[REFUNDS], expected_revision=flow.draft_revision)

    response = client_for(admin).post(f"{rules_url(flow)}new/", data)

    assert response.status_code == 409
    assert 'value="Mine"' in text_of(response)
    assert rule_names(flow) == ["Refunds"]


def test_the_queues_offered_are_this_workspaces_only(admin, flow, other_workspace):
    Queue.objects.create(workspace=other_workspace, name="Globex secret queue")

    page = text_of(client_for(admin).get(f"{rules_url(flow)}new/"))

    assert "Globex secret queue" not in page


def test_rules_in_the_navigation_without_any_flow_lead_to_the_flows_list(admin, workspace):
    workspace.flows.all().delete()

    response = client_for(admin).get("/w/acme/rules/")

    assert response.status_code == 302 and response["Location"] == "/w/acme/flows/"


def test_deleting_with_htmx_swaps_the_list_and_puts_the_focus_on_its_heading(admin, three_rules):
    response = client_for(admin).post(
        f"{rules_url(three_rules)}1/delete/",
        {"revision": three_rules.draft_revision},
        HTTP_HX_REQUEST="true",
    )

    page = text_of(response)
    assert "<html" not in page and "(2)" in page
    assert "autofocus" in tag_with_id(page, "rules-heading")
    assert 'hx-swap-oob="true">Deleted the rule “Refunds”.</div>' in page
    assert rule_names(three_rules) == ["VIP", PORTUGUESE_ENTERPRISE["name"]]
