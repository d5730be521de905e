"""The admin audit log: who changed which setting, rule or queue, when, old and new value."""

from __future__ import annotations

from typing import Any

import pytest

from console.audit import audit_entries_of_workspace, value_changes
from routing.services import (
    flow_publish,
    flow_rollback,
    flow_rules_update,
    flow_settings_update,
    queue_delete,
    queue_save,
)

pytestmark = pytest.mark.django_db

VIP_RULE: dict[str, Any] = {
    "name": "VIP",
    "conditions": [{"fact": "customer_plan", "op": "eq", "value": "enterprise"}],
    "action": {"type": "handoff", "queue": "Tier 2", "priority": "high"},
}
ANGRY_RULE: dict[str, Any] = {
    "name": "Angry",
    "conditions": [{"fact": "sentiment_score", "op": "lte", "value": -0.6}],
    "action": {"type": "handoff", "queue": "Tier 1", "priority": "urgent"},
}


def entries(workspace, area):
    return [
        (entry.user, entry.field, entry.old_value, entry.new_value)
        for entry in audit_entries_of_workspace(workspace=workspace, area=area).order_by("id")
    ]


def test_each_changed_setting_is_audited_with_who_and_the_old_and_new_value(workspace, admin):
    flow = workspace.flows.get()

    flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.6, "max_ai_turns": 6},
        expected_revision=flow.draft_revision,
        by=admin,
    )

    assert entries(workspace, "flow settings") == [
        (admin, "confidence_threshold", 0.5, 0.6),
        (admin, "max_ai_turns", 4, 6),
    ]


def test_rules_are_audited_as_added_changed_removed_and_reordered(workspace, admin):
    flow = workspace.flows.get()
    flow = flow_rules_update(
        flow=flow, rules=[VIP_RULE, ANGRY_RULE], expected_revision=flow.draft_revision, by=admin
    )
    vip_urgent = {**VIP_RULE, "action": {**VIP_RULE["action"], "priority": "urgent"}}

    flow_rules_update(
        flow=flow, rules=[ANGRY_RULE, vip_urgent], expected_revision=flow.draft_revision, by=admin
    )

    audited = entries(workspace, "rules")
    assert [(field, old is None, new is None) for _, field, old, new in audited] == [
        ("rule 'VIP'", True, False),
        ("rule 'Angry'", True, False),
        ("rule 'VIP'", False, False),
        ("rule order", False, False),
    ]
    assert audited[2][2]["action"]["priority"] == "high"
    assert audited[2][3]["action"]["priority"] == "urgent"
    assert audited[3][2:] == (["VIP", "Angry"], ["Angry", "VIP"])


def test_publishing_rolling_back_and_queue_changes_are_audited(workspace, admin):
    flow = workspace.flows.get()
    first = flow.published_version
    flow = flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.7},
        expected_revision=flow.draft_revision,
        by=admin,
    )
    flow_publish(flow=flow, published_by=admin)
    flow_rollback(flow=flow, version=first, published_by=admin)
    queue = queue_save(workspace=workspace, name="Billing", tier=1, sla_wait_minutes=15, by=admin)
    queue_delete(queue=queue, by=admin)

    assert entries(workspace, "publishing") == [
        (None, "published version", None, 1),  # the default flow, published with the workspace
        (admin, "published version", 1, 2),
        (admin, "published version", 2, 3),
    ]
    assert entries(workspace, "flow settings")[-1] == (admin, "confidence_threshold", 0.7, 0.5)
    billing = {"name": "Billing", "tier": 1, "sla_wait_minutes": 15}
    assert entries(workspace, "queues") == [
        (admin, "queue", None, billing),
        (admin, "queue", billing, None),
    ]


def test_value_changes_compares_nested_settings_by_path():
    old = {"generator": {"kind": "grounded", "model": ""}, "languages": ["en", "pt"]}
    new = {"generator": {"kind": "openai", "model": "m"}, "languages": ["en"]}

    assert [(c.field, c.old, c.new) for c in value_changes(old, new)] == [
        ("generator.kind", "grounded", "openai"),
        ("generator.model", "", "m"),
        ("languages", ["en", "pt"], ["en"]),
    ]
