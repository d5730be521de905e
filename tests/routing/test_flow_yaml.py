"""A flow as YAML and back: the export reads well and re-imports to the same draft; a bad file is
refused as a whole, each problem named with its line."""

from __future__ import annotations

import pytest
import yaml

from console.audit import audit_entries_of_workspace
from routing.actions import action_templates_install
from routing.flow_yaml import FlowYamlError, flow_export_data, flow_export_yaml, flow_yaml_import
from routing.models import Action, ActionApprovalPolicy, Queue
from routing.services import DraftChangedError, flow_rules_update

pytestmark = pytest.mark.django_db

URGENT_REFUNDS = {
    "name": "Refunds go to tier 2",
    "match": "any",
    "conditions": [{"fact": "message", "op": "contains_any", "value": ["refund"]}],
    "action": {"type": "handoff", "queue": "Tier 2", "priority": "urgent"},
}


@pytest.fixture
def flow(workspace, admin):
    action_templates_install(workspace=workspace)
    flow = workspace.flows.get()
    return flow_rules_update(
        flow=flow, rules=[URGENT_REFUNDS], expected_revision=flow.draft_revision, by=admin
    )


def state(flow) -> dict:
    """Everything an import may change, as the export shows it, and the audit log's length."""
    flow.refresh_from_db()
    return {
        "export": flow_export_data(flow),
        "revision": flow.draft_revision,
        "audited": audit_entries_of_workspace(workspace=flow.workspace).count(),
    }


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if fragment in line)


def test_the_export_is_readable_yaml_of_the_whole_flow(flow):
    text = flow_export_yaml(flow)
    data = yaml.safe_load(text)

    assert text.startswith("# A support flow, exported from its draft.")
    assert list(data) == ["flow", "settings", "rules", "queues", "actions", "approvers"]
    assert data["flow"] == "Default flow"
    assert data["settings"]["confidence_threshold"] == 0.5
    # Name first, action last, however the database stored the keys.
    assert list(data["rules"][0]) == ["name", "enabled", "match", "conditions", "action"]
    assert {"name": "Tier 2", "tier": 2, "sla_wait_minutes": 10} in data["queues"]
    assert {
        "key": "delete_account",
        "name": "Delete account",
        "risk": "destructive",
        "policy": "approval",
        "enabled": False,
    } in data["actions"]
    assert data["approvers"] == {
        "read": ["admin", "agent:2", "agent:1"],
        "write": ["admin", "agent:2"],
        "destructive": ["admin"],
    }


def test_importing_the_export_gives_the_same_draft_and_changes_nothing(flow, admin):
    before = state(flow)

    imported = flow_yaml_import(
        flow=flow, text=flow_export_yaml(flow), expected_revision=flow.draft_revision, by=admin
    )

    assert imported.changes == []
    assert state(flow) == before


def test_an_edited_export_changes_the_draft_queues_actions_and_approvers_and_audits_it(
    flow, admin, workspace
):
    text = flow_export_yaml(flow)
    data = yaml.safe_load(text)
    data["settings"]["confidence_threshold"] = 0.62
    data["queues"].append({"name": "Billing", "tier": 2, "sla_wait_minutes": 5})
    data["rules"][0]["action"]["queue"] = "Billing"  # a queue the same file creates
    refund = next(action for action in data["actions"] if action["key"] == "issue_refund")
    refund["policy"] = "suggest"
    data["approvers"]["write"] = ["admin"]
    revision = flow.draft_revision

    imported = flow_yaml_import(
        flow=flow, text=yaml.safe_dump(data), expected_revision=revision, by=admin
    )

    flow.refresh_from_db()
    assert flow.settings["confidence_threshold"] == 0.62
    assert flow.rules[0]["action"] == {"type": "handoff", "queue": "Billing", "priority": "urgent"}
    assert flow.draft_revision == revision + 2  # settings, then rules
    assert Queue.objects.get(workspace=workspace, name="Billing").sla_wait_minutes == 5
    assert Action.objects.get(workspace=workspace, key="issue_refund").policy == "suggest"
    assert ActionApprovalPolicy.objects.get(workspace=workspace, risk="write").approvers == [
        "admin"
    ]
    assert {change.field for change in imported.changes} == {
        "confidence_threshold",
        "rule 'Refunds go to tier 2'",
        "queue 'Billing'",
        "action 'issue_refund' policy",
        "approvers of write actions",
    }
    audited = audit_entries_of_workspace(workspace=workspace)
    assert {entry.area for entry in audited} >= {
        "flow settings",
        "rules",
        "queues",
        "actions",
        "approvals",
    }
    policy = audited.get(area="actions", field="policy")
    assert (policy.user, policy.subject, policy.old_value, policy.new_value) == (
        admin,
        "action issue_refund",
        "approval",
        "suggest",
    )


def test_a_partial_file_changes_only_what_it_holds(flow, admin):
    before = state(flow)["export"]

    flow_yaml_import(
        flow=flow,
        text="settings:\n  max_ai_turns: 6\n",
        expected_revision=flow.draft_revision,
        by=admin,
    )

    after = state(flow)["export"]
    assert after["settings"] == {**before["settings"], "max_ai_turns": 6}
    assert {k: v for k, v in after.items() if k != "settings"} == {
        k: v for k, v in before.items() if k != "settings"
    }


RULE_TEXT = """\
rules:
- name: Refunds go to tier 2
  conditions:
  - fact: message
    op: contains_any
    value: [refund]
  action:
    type: handoff
    queue: Tier 9
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "flow: Default flow\nsettings:\n  confidence_threshold: 2\n",
            ["line 3: confidence_threshold: Must be between 0 and 1."],
        ),
        (
            "settings:\n  confidence_threshold: 0.5\n  languages: [en\n",
            ["line 4: not valid YAML: "],
        ),
        ("settings:\n\tconfidence_threshold: 0.5\n", ["line 2: not valid YAML: "]),
        ("flow: x\nsetings:\n  max_ai_turns: 3\n", ["line 2: unknown key 'setings'; use flow,"]),
        (
            "settings:\n  max_ai_turns: 3\n  sentiment_threshold: -0.5\n",
            ["line 3: sentiment_threshold: Unknown setting 'sentiment_threshold'."],
        ),
        (
            "settings:\n  generator:\n    kind: grounded\n    modle: x\n",
            ["line 4: generator: Unknown generator setting 'modle'."],
        ),
        (RULE_TEXT, ["line 9: rule 'Refunds go to tier 2': Hand off to one of the queues"]),
        (
            RULE_TEXT.replace("    op: contains_any", "    op: contains_any\n    negate: true"),
            ["line 6: unknown key 'negate'", "line 10: rule 'Refunds go to tier 2': Hand off"],
        ),
        (
            RULE_TEXT.replace("fact: message", "fact: mood"),
            ["line 4: rule 'Refunds go to tier 2': Condition 1: unknown fact 'mood'."],
        ),
        (
            RULE_TEXT.replace("- name: Refunds go to tier 2", "- name: R\n  enabled: 'no'"),
            ["line 3: rule 'R': enabled is true or false.", "line 10: rule 'R': Hand off"],
        ),
        (
            "actions:\n- key: issue_refund\n  policy: never\n- key: launch_rockets\n",
            ["line 4: no action has the key 'launch_rockets' in this workspace"],
        ),
        (
            "actions:\n- key: delete_account\n  risk: destructive\n  policy: autonomous\n",
            ["line 4: action 'delete_account': A destructive action can never run by itself"],
        ),
        (
            "actions:\n- key: delete_account\n  risk: write\n",
            ["line 3: action 'delete_account': its risk is destructive, not 'write'"],
        ),
        (
            "actions:\n- key: add_seat\n  enabled: true\n",
            ["line 3: action 'add_seat': Set the webhook URL of your backend"],
        ),
        (
            "approvers:\n  destructive: [admin, viewer]\n",
            ["line 2: approvers of destructive actions: Viewers can never approve"],
        ),
        (
            "queues:\n- name: Tier 1\n  tier: 3\n- name: Tier 1\n",
            ["line 3: queue 'Tier 1': The tier is 1 or 2.", "line 4: queue 'Tier 1' appears"],
        ),
        (
            "settings:\n  max_ai_turns: 3\n  max_ai_turns: 4\n",
            ["line 3: 'max_ai_turns' appears twice."],
        ),
        (
            "settings:\n  confidence_threshold: .nan\n",
            ["line 2: '.nan' is not a usable number."],
        ),
        (
            "settings:\n  guardrail_prompt: !!binary aGVsbG8=\n",
            ["line 2: unsupported value type 'tag:yaml.org,2002:binary'."],
        ),
        (
            "a: &a [x, x]\nb: &b [*a, *a]\nsettings: *b\n",
            ["line 2: aliases (*name) are not supported here"],
        ),
        ("- settings\n", ["line 1: the file must be a mapping"]),
        ("# only a comment\n", ["The file is empty"]),
        ("rules: {name: x}\n", ["line 1: rules must be a list"]),
    ],
)
def test_a_bad_file_names_each_line_at_fault_and_changes_nothing(flow, admin, text, expected):
    before = state(flow)

    with pytest.raises(FlowYamlError) as refused:
        flow_yaml_import(flow=flow, text=text, expected_revision=flow.draft_revision, by=admin)

    messages = refused.value.messages
    assert len(messages) == len(expected), messages
    for message, start in zip(messages, expected, strict=True):
        assert message.startswith(start), messages
    assert state(flow) == before


def test_a_failing_file_undoes_the_parts_that_were_valid(flow, admin, workspace):
    text = (
        "queues:\n- name: Billing\n  tier: 2\n"
        "actions:\n- key: issue_refund\n  policy: suggest\n"
        "settings:\n  confidence_threshold: 7\n"
    )
    before = state(flow)

    with pytest.raises(FlowYamlError, match="line 8: confidence_threshold"):
        flow_yaml_import(flow=flow, text=text, expected_revision=flow.draft_revision, by=admin)

    assert not Queue.objects.filter(workspace=workspace, name="Billing").exists()
    assert state(flow) == before


def test_an_import_over_a_draft_someone_else_changed_is_refused(flow, admin):
    opened_at = flow.draft_revision
    flow_rules_update(flow=flow, rules=[], expected_revision=opened_at, by=admin)
    before = state(flow)

    with pytest.raises(DraftChangedError, match="Someone else changed this draft"):
        flow_yaml_import(
            flow=flow, text="settings:\n  max_ai_turns: 6\n", expected_revision=opened_at, by=admin
        )

    assert state(flow) == before


def test_dates_and_times_stay_text(flow, admin):
    text = "settings:\n  business_hours:\n    timezone: UTC\n    days: {mon: 09:00-18:00}\n"

    flow_yaml_import(flow=flow, text=text, expected_revision=flow.draft_revision, by=admin)

    flow.refresh_from_db()
    assert flow.settings["business_hours"] == {"timezone": "UTC", "days": {"mon": "09:00-18:00"}}


def test_a_huge_file_is_refused_before_it_is_read(flow, admin):
    text = "settings:\n  guardrail_prompt: " + "x" * 600_000 + "\n"

    with pytest.raises(FlowYamlError, match="larger than 512 kB"):
        flow_yaml_import(flow=flow, text=text, expected_revision=flow.draft_revision, by=admin)
