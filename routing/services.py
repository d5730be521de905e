"""Writes of support flows: the default flow, draft edits, publishing and rollback."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from console.models import User, Workspace
from routing.flow_settings import FlowSettings
from routing.models import FlowVersion, SupportFlow

DEFAULT_FLOW_NAME = "Default flow"


class DraftChangedError(ValidationError):
    """The draft was changed by someone else since the editor loaded it."""


@transaction.atomic
def flow_create_default(*, workspace: Workspace) -> SupportFlow:
    """Every workspace starts with a published default flow, so it answers at once."""
    existing = SupportFlow.objects.filter(workspace=workspace, name=DEFAULT_FLOW_NAME).first()
    if existing is not None:
        return existing
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
    locked = SupportFlow.objects.select_for_update().get(pk=flow.pk)
    if locked.draft_revision != expected_revision:
        raise DraftChangedError(
            "Someone else changed this draft since you opened it; reload to see their change."
        )
    locked.settings = validated.to_json()
    locked.draft_revision += 1
    locked.save(update_fields=["settings", "draft_revision", "updated_at"])
    return locked


@transaction.atomic
def flow_publish(*, flow: SupportFlow, published_by: User | None, note: str = "") -> FlowVersion:
    """Freeze the draft into the next version and make it the live one."""
    locked = SupportFlow.objects.select_for_update().get(pk=flow.pk)
    settings = FlowSettings.from_json(locked.settings)  # a stored draft is re-validated
    return _publish_snapshot(
        flow=locked, snapshot={"settings": settings.to_json()}, user=published_by, note=note
    )


@transaction.atomic
def flow_rollback(
    *, flow: SupportFlow, version: FlowVersion, published_by: User | None
) -> FlowVersion:
    """Publish an earlier version's snapshot again (as a new version) and reset the draft to it."""
    if version.flow_id != flow.pk:
        raise ValidationError("That version belongs to another flow.")
    locked = SupportFlow.objects.select_for_update().get(pk=flow.pk)
    locked.settings = version.snapshot["settings"]
    locked.draft_revision += 1
    locked.save(update_fields=["settings", "draft_revision", "updated_at"])
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
