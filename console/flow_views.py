"""The console's Flows section: each flow's draft (settings, rules), queues, published versions,
and a simulator that runs a message through the draft.

Thin views: they check access, validate input and call `routing.services` (writes) and
`routing.selectors` (reads). Every member sees the pages; admins and agents simulate. The
simulator works as a plain form; with htmx only its result region is swapped.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from console.access import ADMINS_AND_AGENTS, workspace_member_required
from console.flow_display import (
    OUTCOME_LABELS,
    REASON_LABELS,
    FlowDiagram,
    action_lines,
    language_name,
    rule_lines,
    safe_link,
    trace_view,
)
from console.flow_forms import SimulateForm
from console.knowledge_forms import add_service_errors
from console.models import Membership, Role, Workspace
from knowledge.selectors import articles_of_workspace, sources_of_workspace
from routing import services
from routing.flow_settings import FlowSettings
from routing.models import DecisionTrace, SupportFlow
from routing.pipeline import PASSAGES_FOR_ANSWER, MessageContext, MessageDecision
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
    form = SimulateForm() if _can_simulate(membership) else None
    return render(request, "routing/flow.html", _flow_page_context(membership, flow, form))


@require_POST
@workspace_member_required(roles=ADMINS_AND_AGENTS)
def flow_simulate(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    form = SimulateForm(request.POST)
    simulation = None
    if form.is_valid():
        values = form.cleaned_data
        context = MessageContext(history=values["history"], customer=form.customer())
        try:
            decision, record = services.flow_simulate(
                flow=flow, message=values["message"], context=context
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            simulation = _simulation(decision, record)
    htmx = getattr(request, "htmx", None)  # set by django-htmx's middleware
    if htmx:
        # htmx swaps only successful responses, so a form error is a 200 that shows the errors
        # in the result region; the form keeps what the person typed.
        response = render(
            request,
            "routing/_simulation_result.html",
            _context(
                membership, flow=flow, form=form, simulation=simulation, show_form_errors=True
            ),
        )
    else:
        response = render(
            request,
            "routing/flow.html",
            _flow_page_context(membership, flow, form, simulation),
            status=400 if form.errors else 200,
        )
    patch_vary_headers(response, ("HX-Request",))
    return response


def _flow_page_context(
    membership: Membership,
    flow: SupportFlow,
    form: SimulateForm | None,
    simulation: dict[str, Any] | None = None,
) -> dict[str, object]:
    diagram, settings_errors = flow_diagram(membership.workspace, flow)
    return _context(
        membership,
        flow=flow,
        diagram=diagram,
        settings_errors=settings_errors,
        unpublished_changes=flow_has_unpublished_changes(flow),
        form=form,
        simulation=simulation,
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


def _simulation(decision: MessageDecision, record: DecisionTrace) -> dict[str, Any]:
    """What the result region shows: the decision, its citations and its trace."""
    return {
        "trace_id": record.pk,
        "message": record.message,
        "outcome": decision.outcome,
        "outcome_label": OUTCOME_LABELS.get(decision.outcome, decision.outcome),
        "reply": decision.reply,
        "language": decision.language,
        "language_name": language_name(decision.language),
        "reason": decision.reason,
        "reason_label": REASON_LABELS.get(decision.reason, decision.reason),
        "priority": decision.priority,
        "queue": decision.queue,
        "citations": [
            {**citation, "link": safe_link(citation.get("url"))} for citation in decision.citations
        ],
        "draft_revision": record.draft_revision,
        "trace": trace_view(decision.trace),
    }


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
