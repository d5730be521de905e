"""Reads of support flows, scoped to a workspace."""

from __future__ import annotations

from django.db.models import QuerySet

from console.models import Workspace
from routing.flow_settings import FlowSettings
from routing.models import DecisionTrace, FlowVersion, Queue, SupportFlow


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
