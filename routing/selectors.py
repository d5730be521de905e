"""Reads of support flows and AI actions, scoped to a workspace."""

from __future__ import annotations

from django.db.models import QuerySet

from console.models import Membership, Role, Workspace
from routing.flow_settings import FlowSettings
from routing.models import (
    Action,
    ActionApprovalPolicy,
    ActionPolicy,
    ActionRisk,
    DecisionTrace,
    FlowVersion,
    Queue,
    SupportFlow,
)

# Who approves when a workspace has no policy row for a risk level (one made around the services,
# e.g. straight through the ORM): admins only. Failing closed beats guessing.
FALLBACK_APPROVERS = ("admin",)


def flows_of_workspace(*, workspace: Workspace) -> QuerySet[SupportFlow]:
    return SupportFlow.objects.filter(workspace=workspace).select_related("published_version")


def published_version(*, workspace: Workspace) -> FlowVersion | None:
    """The live version of the workspace's flow (the default flow until flows are chosen per
    channel)."""
    flow = flows_of_workspace(workspace=workspace).order_by("created_at").first()
    return flow.published_version if flow is not None else None


def version_settings(version: FlowVersion) -> FlowSettings:
    return FlowSettings.from_json(version.snapshot["settings"])


def flow_of_workspace(*, workspace: Workspace, flow_id: int) -> SupportFlow | None:
    return flows_of_workspace(workspace=workspace).filter(pk=flow_id).first()


def queues_of_workspace(*, workspace: Workspace) -> QuerySet[Queue]:
    return Queue.objects.filter(workspace=workspace).order_by("tier", "name")


def flow_has_unpublished_changes(flow: SupportFlow) -> bool:
    """Whether the draft's settings or rules differ from the live version's."""
    live = flow.published_version
    if live is None:
        return True
    return flow.settings != live.snapshot.get("settings") or flow.rules != live.snapshot.get(
        "rules", []
    )


def decision_traces_of_workspace(*, workspace: Workspace) -> QuerySet[DecisionTrace]:
    """Newest first, without the (large) trace itself: for lists."""
    return (
        DecisionTrace.objects.filter(workspace=workspace)
        .select_related("flow", "flow_version")
        .defer("trace")
        .order_by("-created_at", "-id")
    )


def decision_trace_of_workspace(*, workspace: Workspace, trace_id: int) -> DecisionTrace | None:
    return (
        DecisionTrace.objects.filter(workspace=workspace, pk=trace_id)
        .select_related("flow", "flow_version")
        .first()
    )


def versions_of_flow(*, flow: SupportFlow) -> QuerySet[FlowVersion]:
    return flow.versions.select_related("published_by").order_by("-number")


# --- AI actions ------------------------------------------------------------------------------


def actions_of_workspace(*, workspace: Workspace) -> QuerySet[Action]:
    return Action.objects.filter(workspace=workspace).order_by("name", "id")


def action_of_workspace(*, workspace: Workspace, action_id: int) -> Action | None:
    return actions_of_workspace(workspace=workspace).filter(pk=action_id).first()


def usable_actions_of_workspace(*, workspace_id: int) -> QuerySet[Action]:
    """The actions the AI may ask for: enabled, and of a policy other than never. An LLM flow
    offers them to the model as tools."""
    return (
        Action.objects.filter(workspace_id=workspace_id, enabled=True)
        .exclude(policy=ActionPolicy.NEVER)
        .order_by("name", "id")
    )


def action_approval_policies_of_workspace(*, workspace: Workspace) -> list[ActionApprovalPolicy]:
    """One policy per risk level, from read to destructive. A level without a stored row shows
    the fallback (admins only), unsaved: that is what `may_approve` applies."""
    stored = {
        policy.risk: policy
        for policy in ActionApprovalPolicy.objects.filter(workspace=workspace).select_related(
            "updated_by"
        )
    }
    return [
        stored.get(risk)
        or ActionApprovalPolicy(workspace=workspace, risk=risk, approvers=list(FALLBACK_APPROVERS))
        for risk in ActionRisk.values
    ]


def action_approvers(*, workspace: Workspace, risk: str) -> list[str]:
    approvers = (
        ActionApprovalPolicy.objects.filter(workspace=workspace, risk=risk)
        .values_list("approvers", flat=True)
        .first()
    )
    return list(approvers) if approvers is not None else list(FALLBACK_APPROVERS)


def approver_spec(membership: Membership) -> str:
    """How an approval policy names this member: "admin", "agent:1", "agent:2" or "viewer"."""
    if membership.role == Role.AGENT:
        return f"agent:{membership.tier}"
    return str(membership.role)


def may_approve(*, membership: Membership, risk: str, workspace: Workspace) -> bool:
    """Whether this member may approve a request for an action of `risk` in `workspace`.

    No side effects; the only read is the workspace's policy for that risk. A member of another
    workspace, or an unknown risk, may not. A viewer never approves a destructive action, even if
    a policy row said otherwise (the services and the database refuse to store that anyway).
    """
    if membership.workspace_id != workspace.pk or risk not in ActionRisk.values:
        return False
    spec = approver_spec(membership)
    if risk == ActionRisk.DESTRUCTIVE and spec == "viewer":
        return False
    return spec in action_approvers(workspace=workspace, risk=risk)
