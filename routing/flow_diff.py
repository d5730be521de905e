"""What changed between two states of a flow, as per-field changes a person can read: the
publish page's "changes since the published version" and the audit log of rule edits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from console.audit import Change, value_changes


def rules_changes(
    old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> list[Change]:
    """Rules are told apart by name: added, removed, changed (the whole rule, old and new),
    and the order when the rules both lists share were reordered."""
    old_by_name = {rule["name"]: rule for rule in old}
    new_by_name = {rule["name"]: rule for rule in new}
    changes = []
    for name, rule in old_by_name.items():
        if name not in new_by_name:
            changes.append(Change(f"rule {name!r}", dict(rule), None))
        elif new_by_name[name] != rule:
            changes.append(Change(f"rule {name!r}", dict(rule), dict(new_by_name[name])))
    changes.extend(
        Change(f"rule {name!r}", None, dict(rule))
        for name, rule in new_by_name.items()
        if name not in old_by_name
    )
    old_order = [name for name in old_by_name if name in new_by_name]
    new_order = [name for name in new_by_name if name in old_by_name]
    if old_order != new_order:
        changes.append(Change("rule order", old_order, new_order))
    return changes


def snapshot_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Settings by field, rules by name, queues by name: from snapshot `old` to `new` (each
    {"settings", "rules", "queues"} as a published version freezes it)."""
    changes = value_changes(old.get("settings", {}), new.get("settings", {}))
    changes += rules_changes(old.get("rules", []), new.get("rules", []))
    old_queues = {queue["name"]: queue for queue in old.get("queues", [])}
    new_queues = {queue["name"]: queue for queue in new.get("queues", [])}
    for name in [*old_queues, *(name for name in new_queues if name not in old_queues)]:
        if old_queues.get(name) != new_queues.get(name):
            changes.append(Change(f"queue {name!r}", old_queues.get(name), new_queues.get(name)))
    return changes
