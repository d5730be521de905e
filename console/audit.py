"""The admin audit log: every change to a flow's settings or rules, queues, actions, approvers,
the team and test questions is kept with who made it, when, and the old and new value.

Services call `audit_record` inside their transaction, so an entry exists exactly when the
change committed. `value_changes` turns two JSON documents into per-field changes, so an entry
says "confidence_threshold: 0.5 -> 0.6" rather than "settings changed".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from console.models import AuditEntry, User, Workspace

# The areas the audit log filters on.
AUDIT_AREAS = (
    "flow settings",
    "rules",
    "publishing",
    "queues",
    "actions",
    "approvals",
    "team",
    "test questions",
    "chat widget",
)


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


def audit_record(
    *,
    workspace: Workspace,
    user: User | None,
    area: str,
    subject: str,
    changes: Iterable[Change],
) -> list[AuditEntry]:
    """Store one entry per change (none when nothing changed)."""
    if area not in AUDIT_AREAS:
        raise ValueError(f"Unknown audit area {area!r}.")
    entries = [
        AuditEntry(
            workspace=workspace,
            user=user if isinstance(user, User) else None,
            area=area,
            subject=subject[:200],
            field=change.field[:200],
            old_value=change.old,
            new_value=change.new,
        )
        for change in changes
    ]
    return AuditEntry.objects.bulk_create(entries)


def value_changes(old: Any, new: Any, *, prefix: str = "") -> list[Change]:
    """The fields that differ between two JSON values, by dotted path (nested objects are
    compared key by key, in the new value's order: stored JSON comes back in jsonb's own key
    order; lists and scalars as a whole)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        changes: list[Change] = []
        for key in [*new, *(key for key in old if key not in new)]:
            path = f"{prefix}.{key}" if prefix else str(key)
            changes.extend(value_changes(old.get(key), new.get(key), prefix=path))
        return changes
    if old == new:
        return []
    return [Change(prefix, old, new)]


def audit_entries_of_workspace(
    *, workspace: Workspace, area: str | None = None, user_id: int | None = None
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.filter(workspace=workspace).select_related("user")
    if area:
        entries = entries.filter(area=area)
    if user_id:
        entries = entries.filter(user_id=user_id)
    return entries
