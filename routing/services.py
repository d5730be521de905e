"""Writes of support flows: the default flow, draft edits, publishing and rollback."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from console.models import User, Workspace
from routing.flow_settings import FlowSettings
from routing.models import FlowVersion, Queue, SupportFlow
from routing.rules import rule_validate

DEFAULT_FLOW_NAME = "Default flow"
DEFAULT_QUEUES = (("Tier 1", 1), ("Tier 2", 2))


class DraftChangedError(ValidationError):
    """The draft was changed by someone else since the editor loaded it."""


@transaction.atomic
def flow_create_default(*, workspace: Workspace) -> SupportFlow:
    """Every workspace starts with a published default flow, so it answers at once."""
    existing = SupportFlow.objects.filter(workspace=workspace, name=DEFAULT_FLOW_NAME).first()
    if existing is not None:
        return existing
    for name, tier in DEFAULT_QUEUES:
        Queue.objects.get_or_create(workspace=workspace, name=name, defaults={"tier": tier})
    flow = SupportFlow.objects.create(
        workspace=workspace, name=DEFAULT_FLOW_NAME, settings=FlowSettings().to_json()
    )
    flow_publish(flow=flow, published_by=None, note="Default flow")
    return flow


@transaction.atomic
def flow_settings_update(
    *, flow: SupportFlow, settings: dict[str, Any], expected_revision: int
) -> SupportFlow:
    """Replace the draft's settings (validated) if nobody changed the draft in between."""
    validated = FlowSettings.from_json(settings)
    locked = _locked_at_revision(flow, expected_revision)
    locked.settings = validated.to_json()
    locked.draft_revision += 1
    locked.save(update_fields=["settings", "draft_revision", "updated_at"])
    return locked


@transaction.atomic
def flow_rules_update(
    *, flow: SupportFlow, rules: list[dict[str, Any]], expected_revision: int
) -> SupportFlow:
    """Replace the draft's ordered routing rules (each validated against the workspace's
    queues) if nobody changed the draft in between."""
    if not isinstance(rules, list):
        raise ValidationError({"rules": "Send the rules as a list, in order."})
    queue_names = set(
        Queue.objects.filter(workspace_id=flow.workspace_id).values_list("name", flat=True)
    )
    validated = []
    for position, rule in enumerate(rules, start=1):
        try:
            validated.append(rule_validate(rule, queue_names=queue_names))
        except ValidationError as error:
            raise ValidationError({f"rule {position}": error.messages}) from None
    locked = _locked_at_revision(flow, expected_revision)
    locked.rules = validated
    locked.draft_revision += 1
    locked.save(update_fields=["rules", "draft_revision", "updated_at"])
    return locked


def _locked_at_revision(flow: SupportFlow, expected_revision: int) -> SupportFlow:
    locked = SupportFlow.objects.select_for_update().get(pk=flow.pk)
    if locked.draft_revision != expected_revision:
        raise DraftChangedError(
            "Someone else changed this draft since you opened it; reload to see their change."
        )
    return locked


@transaction.atomic
def flow_publish(*, flow: SupportFlow, published_by: User | None, note: str = "") -> FlowVersion:
    """Freeze the draft into the next version and make it the live one."""
    locked = SupportFlow.objects.select_for_update().get(pk=flow.pk)
    settings = FlowSettings.from_json(locked.settings)  # a stored draft is re-validated
    queues = list(
        Queue.objects.filter(workspace_id=locked.workspace_id)
        .order_by("tier", "name")
        .values("name", "tier", "sla_wait_minutes")
    )
    queue_names = {queue["name"] for queue in queues}
    missing = sorted(
        {r["action"]["queue"] for r in locked.rules if r["action"]["type"] == "handoff"}
        - queue_names
    )
    if missing:
        raise ValidationError(f"A rule hands off to the queue {missing[0]!r}, which is gone.")
    snapshot = {"settings": settings.to_json(), "rules": locked.rules, "queues": queues}
    return _publish_snapshot(flow=locked, snapshot=snapshot, user=published_by, note=note)


@transaction.atomic
def flow_rollback(
    *, flow: SupportFlow, version: FlowVersion, published_by: User | None
) -> FlowVersion:
    """Publish an earlier version's snapshot again (as a new version) and reset the draft to it."""
    if version.flow_id != flow.pk:
        raise ValidationError("That version belongs to another flow.")
    locked = SupportFlow.objects.select_for_update().get(pk=flow.pk)
    locked.settings = version.snapshot["settings"]
    locked.rules = version.snapshot.get("rules", [])
    locked.draft_revision += 1
    locked.save(update_fields=["settings", "rules", "draft_revision", "updated_at"])
    return _publish_snapshot(
        flow=locked,
        snapshot=version.snapshot,
        user=published_by,
        note=f"Rollback to version {version.number}",
    )


def _publish_snapshot(
    *, flow: SupportFlow, snapshot: dict[str, Any], user: User | None, note: str
) -> FlowVersion:
    last = flow.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = FlowVersion.objects.create(
        flow=flow, number=last + 1, snapshot=snapshot, published_by=user, note=note[:200]
    )
    flow.published_version = version
    flow.save(update_fields=["published_version", "updated_at"])
    return version


# --- queues ----------------------------------------------------------------------------------


def queue_save(
    *,
    workspace: Workspace,
    name: str,
    tier: int,
    sla_wait_minutes: int,
    queue: Queue | None = None,
) -> Queue:
    """Create a queue, or change `queue`. Renaming a queue that rules use is refused."""
    name = name.strip()
    if not name or len(name) > 80:
        raise ValidationError({"name": "Give the queue a name of at most 80 characters."})
    if tier not in (1, 2):
        raise ValidationError({"tier": "The tier is 1 or 2."})
    if not 1 <= sla_wait_minutes <= 7 * 24 * 60:
        raise ValidationError({"sla_wait_minutes": "Between 1 minute and 7 days."})
    clash = Queue.objects.filter(workspace=workspace, name=name)
    if queue is not None:
        clash = clash.exclude(pk=queue.pk)
        if queue.name != name and _queue_in_rules(workspace, queue.name):
            raise ValidationError({"name": "Rules hand off to this queue; change them first."})
    if clash.exists():
        raise ValidationError({"name": f"There is already a queue named {name!r}."})
    queue = queue or Queue(workspace=workspace)
    queue.name, queue.tier, queue.sla_wait_minutes = name, tier, sla_wait_minutes
    queue.save()
    return queue


def queue_delete(*, queue: Queue) -> None:
    if _queue_in_rules(queue.workspace, queue.name):
        raise ValidationError("Rules hand off to this queue; change them first.")
    queue.delete()


def _queue_in_rules(workspace: Workspace, name: str) -> bool:
    return any(
        rule["action"].get("queue") == name
        for rules in SupportFlow.objects.filter(workspace=workspace).values_list("rules", flat=True)
        for rule in rules
    )
