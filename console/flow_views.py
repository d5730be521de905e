"""The console's Flows section: the flows list and each flow's overview (a diagram of the draft's
stages). The flow's other pages have views of their own (see console/flow_urls.py).

Thin views: they check access and call `routing.selectors` (reads). Every member sees the pages.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from console.access import ADMINS_AND_AGENTS, workspace_member_required
from console.flow_display import (
    FlowDiagram,
    action_lines,
    rule_lines,
)
from console.models import Membership, Role, Workspace
from knowledge.selectors import articles_of_workspace, sources_of_workspace
from routing.flow_settings import FlowSettings
from routing.models import SupportFlow
from routing.pipeline import PASSAGES_FOR_ANSWER
from routing.selectors import (
    actions_of_workspace,
    flow_has_unpublished_changes,
    flow_of_workspace,
    flows_of_workspace,
    queues_of_workspace,
)

SECTION = "flows"  # highlights "Flows" in the side navigation on every page of the section


def _can_simulate(membership: Membership) -> bool:
    return Role(membership.role) in ADMINS_AND_AGENTS


def _context(membership: Membership, **extra: object) -> dict[str, object]:
    return {
        "membership": membership,
        "workspace": membership.workspace,
        "current_section": SECTION,
        "can_simulate": _can_simulate(membership),
        "can_edit": membership.is_admin,
        **extra,
    }


def _flow_or_404(membership: Membership, flow_id: int) -> SupportFlow:
    flow = flow_of_workspace(workspace=membership.workspace, flow_id=flow_id)
    if flow is None:
        raise Http404("No such flow.")
    return flow


@workspace_member_required()
def flows(request: HttpRequest, membership: Membership) -> HttpResponse:
    rows = [
        {"flow": flow, "unpublished_changes": flow_has_unpublished_changes(flow)}
        for flow in flows_of_workspace(workspace=membership.workspace)
    ]
    return render(request, "routing/flows.html", _context(membership, rows=rows))


@workspace_member_required()
def flow_detail(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    diagram, settings_errors = flow_diagram(membership.workspace, flow)
    return render(
        request,
        "routing/flow.html",
        _context(
            membership,
            flow=flow,
            diagram=diagram,
            settings_errors=settings_errors,
            unpublished_changes=flow_has_unpublished_changes(flow),
        ),
    )


def flow_diagram(workspace: Workspace, flow: SupportFlow) -> tuple[FlowDiagram | None, list[str]]:
    """The overview's stage cards of the draft, or why its stored settings cannot be drawn."""
    try:
        settings = FlowSettings.from_json(flow.settings)
    except ValidationError as error:  # stored drafts are validated; say so if one is not
        return None, error.messages
    diagram = FlowDiagram(
        settings=settings,
        knowledge_sources=sources_of_workspace(workspace=workspace).count(),
        knowledge_articles=articles_of_workspace(workspace=workspace).count(),
        passages_used=PASSAGES_FOR_ANSWER,
        rules=rule_lines(flow.rules),
        queues=[queue.name for queue in queues_of_workspace(workspace=workspace)],
        actions=action_lines(actions_of_workspace(workspace=workspace)),
    )
    return diagram, []


@workspace_member_required()
def flow_page_not_built(
    request: HttpRequest, membership: Membership, flow_id: int, title: str, tab: str
) -> HttpResponse:
    """A flow page whose editor is not built yet says so (the tabs link every page)."""
    flow = _flow_or_404(membership, flow_id)
    return render(
        request,
        "routing/flow_page_not_built.html",
        _context(membership, flow=flow, title=title, tab=tab),
    )
