"""Writes of support flows: the default flow, draft edits, publishing and rollback, the
simulator, and the stored trace of every AI decision."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from console.audit import Change, audit_record, value_changes
from console.models import Membership, Role, User, Workspace
from routing.actions import action_approval_policies_create_default
from routing.flow_diff import rules_changes
from routing.flow_settings import FlowSettings
from routing.models import DecisionSource, DecisionTrace, FlowVersion, Queue, SupportFlow
from routing.pipeline import MessageContext, MessageDecision, flow_message_decide
from routing.rules import rule_validate

DEFAULT_FLOW_NAME = "Default flow"
DEFAULT_QUEUES = (("Tier 1", 1), ("Tier 2", 2))

# What one simulated message may carry; the API and the console form check the same limits.
SIMULATE_MESSAGE_MAX_LENGTH = 4000
SIMULATE_HISTORY_MAX_MESSAGES = 50
CUSTOMER_NAME_MAX_LENGTH = 200
CUSTOMER_PLAN_MAX_LENGTH = 60


class DraftChangedError(ValidationError):
    """The draft was changed by someone else since the editor loaded it."""


@transaction.atomic
def flow_create_default(*, workspace: Workspace) -> SupportFlow:
    """Every workspace starts with a published default flow, so it answers at once, and with the
    default approvers of AI actions (console.services.workspace_create calls only this)."""
    action_approval_policies_create_default(workspace=workspace)
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
    *,
    flow: SupportFlow,
    settings: dict[str, Any],
    expected_revision: int,
    by: User | None = None,
) -> SupportFlow:
    """Replace the draft's settings (validated) if nobody changed the draft in between. Each
    changed setting is audited as `by`'s change."""
    validated = FlowSettings.from_json(settings)
    locked = _locked_at_revision(flow, expected_revision)
    audit_record(
        workspace=locked.workspace,
        user=by,
        area="flow settings",
        subject=locked.name,
        changes=value_changes(locked.settings, validated.to_json()),
    )
    locked.settings = validated.to_json()
    locked.draft_revision += 1
    locked.save(update_fields=["settings", "draft_revision", "updated_at"])
    return locked


@transaction.atomic
def flow_rules_update(
    *,
    flow: SupportFlow,
    rules: list[dict[str, Any]],
    expected_revision: int,
    by: User | None = None,
) -> SupportFlow:
    """Replace the draft's ordered routing rules (each validated against the workspace's
    queues) if nobody changed the draft in between. Each added, removed, changed or reordered
    rule is audited as `by`'s change."""
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
    audit_record(
        workspace=locked.workspace,
        user=by,
        area="rules",
        subject=locked.name,
        changes=rules_changes(locked.rules, validated),
    )
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
    snapshot = _draft_snapshot(locked)
    return _publish_snapshot(flow=locked, snapshot=snapshot, user=published_by, note=note)


def draft_snapshot(flow: SupportFlow) -> dict[str, Any]:
    """The draft as publishing it would freeze it (ValidationError when it cannot be)."""
    return _draft_snapshot(flow)


def _draft_snapshot(flow: SupportFlow) -> dict[str, Any]:
    """The draft as a version would freeze it: {"settings", "rules", "queues"}. The stored
    draft is validated again, and a rule that hands off to a deleted queue is refused."""
    settings = FlowSettings.from_json(flow.settings)
    queues = list(
        Queue.objects.filter(workspace_id=flow.workspace_id)
        .order_by("tier", "name")
        .values("name", "tier", "sla_wait_minutes")
    )
    queue_names = {queue["name"] for queue in queues}
    missing = sorted(
        {r["action"]["queue"] for r in flow.rules if r["action"]["type"] == "handoff"} - queue_names
    )
    if missing:
        raise ValidationError(f"A rule hands off to the queue {missing[0]!r}, which is gone.")
    return {"settings": settings.to_json(), "rules": flow.rules, "queues": queues}


@transaction.atomic
def flow_rollback(
    *, flow: SupportFlow, version: FlowVersion, published_by: User | None
) -> FlowVersion:
    """Publish an earlier version's snapshot again (as a new version) and reset the draft to it."""
    if version.flow_id != flow.pk:
        raise ValidationError("That version belongs to another flow.")
    locked = SupportFlow.objects.select_for_update().get(pk=flow.pk)
    for area, changes in (
        ("flow settings", value_changes(locked.settings, version.snapshot["settings"])),
        ("rules", rules_changes(locked.rules, version.snapshot.get("rules", []))),
    ):
        audit_record(
            workspace=locked.workspace,
            user=published_by,
            area=area,
            subject=locked.name,
            changes=changes,
        )
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
    audit_record(
        workspace=flow.workspace,
        user=user,
        area="publishing",
        subject=flow.name,
        changes=[Change("published version", last or None, version.number)],
    )
    return version


# --- simulator and decision traces ----------------------------------------------------------


def flow_simulate(
    *, flow: SupportFlow, message: str, context: MessageContext
) -> tuple[MessageDecision, DecisionTrace]:
    """Run one customer message through the flow's DRAFT, exactly as publishing it would run,
    and store the decision's trace. Nothing is published and no conversation is touched."""
    message = message.strip()
    if not message:
        raise ValidationError({"message": "Write the customer's message."})
    if len(message) > SIMULATE_MESSAGE_MAX_LENGTH:
        raise ValidationError(
            {"message": f"At most {SIMULATE_MESSAGE_MAX_LENGTH} characters, please."}
        )
    if len(context.history) > SIMULATE_HISTORY_MAX_MESSAGES:
        raise ValidationError(
            {"history": f"At most {SIMULATE_HISTORY_MAX_MESSAGES} earlier messages, please."}
        )
    # An unsaved version: the pipeline runs it like a published one, number 0 marks the draft.
    draft = FlowVersion(flow=flow, number=0, snapshot=_draft_snapshot(flow))
    decision = flow_message_decide(
        version=draft, workspace_id=flow.workspace_id, message=message, context=context
    )
    decision.trace["flow_version"] = "draft"
    decision.trace["draft_revision"] = flow.draft_revision
    record = decision_trace_record(
        workspace=flow.workspace,
        flow=flow,
        version=None,
        draft_revision=flow.draft_revision,
        source=DecisionSource.SIMULATOR,
        message=message,
        decision=decision,
    )
    return decision, record


def decision_trace_record(
    *,
    workspace: Workspace,
    flow: SupportFlow,
    version: FlowVersion | None,
    draft_revision: int | None,
    source: str,
    message: str,
    decision: MessageDecision,
) -> DecisionTrace:
    """Store why the AI decided what it did. A decision ran on a published `version`, or on
    the draft at `draft_revision` (then `version` is None)."""
    if flow.workspace_id != workspace.pk:
        raise ValueError("The flow belongs to another workspace.")
    if version is not None and (version.pk is None or version.flow_id != flow.pk):
        raise ValueError("Record a published version of this flow, or None for the draft.")
    if (version is None) == (draft_revision is None):
        raise ValueError("Give either the published version or the draft revision.")
    if source not in DecisionSource.values:
        raise ValueError(f"Unknown decision source {source!r}.")
    return DecisionTrace.objects.create(
        workspace=workspace,
        flow=flow,
        flow_version=version,
        draft_revision=draft_revision,
        source=source,
        message=message,
        outcome=decision.outcome,
        reason=decision.reason,
        language=decision.language,
        reply=decision.reply,
        trace=decision.trace,
    )


# --- queues ----------------------------------------------------------------------------------


@transaction.atomic
def queue_save(
    *,
    workspace: Workspace,
    name: str,
    tier: int,
    sla_wait_minutes: int,
    queue: Queue | None = None,
    by: User | None = None,
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
    before = _queue_json(queue) if queue is not None else None
    queue = queue or Queue(workspace=workspace)
    queue.name, queue.tier, queue.sla_wait_minutes = name, tier, sla_wait_minutes
    queue.save()
    audit_record(
        workspace=workspace,
        user=by,
        area="queues",
        subject=f"queue {name}",
        changes=[Change("queue", before, _queue_json(queue))]
        if before != _queue_json(queue)
        else [],
    )
    return queue


@transaction.atomic
def queue_delete(*, queue: Queue, by: User | None = None) -> None:
    if _queue_in_rules(queue.workspace, queue.name):
        raise ValidationError("Rules hand off to this queue; change them first.")
    audit_record(
        workspace=queue.workspace,
        user=by,
        area="queues",
        subject=f"queue {queue.name}",
        changes=[Change("queue", _queue_json(queue), None)],
    )
    queue.delete()


def _queue_json(queue: Queue) -> dict[str, Any]:
    return {"name": queue.name, "tier": queue.tier, "sla_wait_minutes": queue.sla_wait_minutes}


def _queue_in_rules(workspace: Workspace, name: str) -> bool:
    return any(
        rule["action"].get("queue") == name
        for rules in SupportFlow.objects.filter(workspace=workspace).values_list("rules", flat=True)
        for rule in rules
    )


class QueueChangedError(ValidationError):
    """The queue was changed by someone else since the editor loaded it."""


QUEUE_CHANGED_MESSAGE = (
    "Someone else changed this queue since you opened it. Your changes are not saved: reload to "
    "see theirs, then make yours again."
)


@transaction.atomic
def queue_update(
    *,
    queue: Queue,
    expected: dict[str, Any],
    name: str,
    tier: int,
    sla_wait_minutes: int,
    by: User | None = None,
) -> Queue:
    """Change a queue as `queue_save` does, unless it no longer is what the editor loaded
    (`expected`, as `queue_snapshot` gave it): then QueueChangedError, and nothing changes."""
    locked = Queue.objects.select_for_update().get(pk=queue.pk)
    if queue_snapshot(locked) != expected:
        raise QueueChangedError(QUEUE_CHANGED_MESSAGE)
    return queue_save(
        workspace=locked.workspace,
        queue=locked,
        name=name,
        tier=tier,
        sla_wait_minutes=sla_wait_minutes,
        by=by,
    )


def queue_snapshot(queue: Queue) -> dict[str, Any]:
    """The queue's settings as an editor sees them: {"name", "tier", "sla_wait_minutes"}."""
    return _queue_json(queue)


@transaction.atomic
def queue_members_set(
    *,
    queue: Queue,
    users: list[User],
    by: User | None = None,
    expected_member_ids: list[int] | None = None,
) -> Queue:
    """Make `users` the queue's members (only admins and agents of its workspace work a queue).
    With `expected_member_ids` (what the editor loaded), a change someone else saved in between
    is not overwritten: QueueChangedError. Audited as one change of the member list."""
    locked = Queue.objects.select_for_update().get(pk=queue.pk)
    before = sorted(locked.members.values_list("email", flat=True))
    if expected_member_ids is not None and sorted(
        locked.members.values_list("pk", flat=True)
    ) != sorted(expected_member_ids):
        raise QueueChangedError(QUEUE_CHANGED_MESSAGE)
    workers = set(
        Membership.objects.filter(
            workspace_id=locked.workspace_id, role__in=(Role.ADMIN, Role.AGENT)
        ).values_list("user_id", flat=True)
    )
    outsiders = [user for user in users if user.pk not in workers]
    if outsiders:
        raise ValidationError(
            {
                "members": f"{outsiders[0].email} is not an admin or agent of this workspace: "
                "only they work a queue."
            }
        )
    locked.members.set(users)
    after = sorted(user.email for user in set(users))
    audit_record(
        workspace=locked.workspace,
        user=by,
        area="queues",
        subject=f"queue {locked.name}",
        changes=[Change("members", before, after)] if before != after else [],
    )
    return locked
