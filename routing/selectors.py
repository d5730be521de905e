"""Reads of support flows, scoped to a workspace."""

from __future__ import annotations

from django.db.models import QuerySet

from console.models import Workspace
from routing.flow_settings import FlowSettings
from routing.models import FlowVersion, Queue, SupportFlow


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
