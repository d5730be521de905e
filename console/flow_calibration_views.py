"""The flow's Thresholds page (calibration) and Simulator page.

Thresholds: sliders for the confidence and sentiment thresholds; as they move, htmx asks
`calibrate` how the workspace's test questions and a few example messages would be treated at
those values (routing.calibration: one run per question with the thresholds open, cached per
draft revision, then decided from the recorded facts), so the admin sees answers, handoffs and
wrong answers trade off before saving. Everyone may explore; only admins save.

Simulator: one message (with earlier turns and the customer's details) through the draft, with
the whole trace.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from console.access import ADMINS_AND_AGENTS, workspace_member_required
from console.flow_calibration_forms import DEFAULT_EXAMPLES, SimulatorForm, ThresholdsForm
from console.flow_display import REASON_LABELS, simulation_view
from console.knowledge_forms import add_service_errors
from console.models import Membership, Role
from routing import services
from routing.calibration import (
    CalibrationCase,
    Thresholds,
    calibration_case,
    calibration_summary,
    open_version,
    treatment_verdict,
)
from routing.flow_settings import FlowSettings
from routing.models import SupportFlow
from routing.pipeline import MessageContext
from routing.question_set import flow_draft_version, questions_of_workspace
from routing.selectors import flow_of_workspace

SECTION = "flows"
CALIBRATION_CACHE_SECONDS = 10 * 60
# The trade-off table: answers and errors at these confidence thresholds.
TRADE_OFF_THRESHOLDS = tuple(round(0.30 + 0.05 * step, 2) for step in range(11))


def _flow_or_404(membership: Membership, flow_id: int) -> SupportFlow:
    flow = flow_of_workspace(workspace=membership.workspace, flow_id=flow_id)
    if flow is None:
        raise Http404("No such flow.")
    return flow


def _context(membership: Membership, flow: SupportFlow, **extra: object) -> dict[str, object]:
    return {
        "membership": membership,
        "workspace": membership.workspace,
        "current_section": SECTION,
        "flow": flow,
        "is_admin": membership.role == Role.ADMIN,
        **extra,
    }


# --- thresholds ------------------------------------------------------------------------------


@require_GET
@workspace_member_required()
def thresholds(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    settings = FlowSettings.from_json(flow.settings)
    form = ThresholdsForm(
        initial={
            "confidence_threshold": settings.confidence_threshold,
            "sentiment_escalate_at": settings.sentiment_escalate_at,
            "sentiment_high_priority_at": settings.sentiment_high_priority_at,
            "examples": "\n".join(DEFAULT_EXAMPLES),
            "revision": flow.draft_revision,
        }
    )
    return render(
        request,
        "routing/thresholds.html",
        _context(
            membership,
            flow,
            tab="thresholds",
            form=form,
            calibration=None,  # the page asks for it once loaded: the first run takes a while
            saved=request.GET.get("saved") == "1",
        ),
    )


@require_GET
@workspace_member_required()
def calibrate(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    """The calibration region for the slider values in the query string (htmx swaps it)."""
    flow = _flow_or_404(membership, flow_id)
    form = ThresholdsForm(request.GET)
    calibration = None
    if form.is_valid():
        values = form.cleaned_data
        calibration = _calibration(flow, _thresholds(values), values["examples"])
    response = render(
        request,
        "routing/_calibration.html",
        _context(membership, flow, form=form, calibration=calibration),
    )
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_POST
@workspace_member_required(roles=(Role.ADMIN,))
def thresholds_save(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    form = ThresholdsForm(request.POST)
    if form.is_valid():
        values = form.cleaned_data
        chosen = _thresholds(values)
        try:
            services.flow_settings_update(
                flow=flow,
                settings={**flow.settings, **chosen.__dict__},
                expected_revision=values["revision"] or 0,
                by=membership.user,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            url = redirect(
                "console:flow_thresholds", workspace_slug=membership.workspace.slug, flow_id=flow.pk
            ).url
            return redirect(f"{url}?saved=1")
    values = form.cleaned_data if hasattr(form, "cleaned_data") else {}
    calibration = None
    if not form.errors.keys() - {"__all__", "revision"}:
        calibration = _calibration(flow, _thresholds(values), values.get("examples", []))
    return render(
        request,
        "routing/thresholds.html",
        _context(membership, flow, tab="thresholds", form=form, calibration=calibration),
        status=400,
    )


def _thresholds(values: dict[str, Any]) -> Thresholds:
    return Thresholds(
        confidence_threshold=values["confidence_threshold"],
        sentiment_escalate_at=values["sentiment_escalate_at"],
        sentiment_high_priority_at=values["sentiment_high_priority_at"],
    )


def _calibration(
    flow: SupportFlow, thresholds: Thresholds, examples: Sequence[str]
) -> dict[str, Any]:
    try:
        cases = _calibration_cases(flow, examples)
    except ValidationError as error:  # the draft cannot run (a rule's queue is gone)
        return {"error": " ".join(error.messages)}
    rows = []
    for case in cases:
        treatment = case.treatment(thresholds)
        last = case.turns[min(treatment.turn, len(case.turns)) - 1]
        rows.append(
            {
                "label": case.label,
                "is_question": case.question is not None,
                "expected": case.expected,
                "outcome": treatment.outcome,
                "reason": REASON_LABELS.get(treatment.reason, treatment.reason),
                "priority": treatment.priority,
                "cited_first": treatment.cited_first,
                "verdict": treatment_verdict(case, treatment),
                "confidence": last.confidence,
                "sentiment": last.sentiment,
                "turn": treatment.turn,
                "turns": len(case.turns),
            }
        )
    trade_off = [
        {
            "threshold": value,
            "current": abs(value - thresholds.confidence_threshold) < 0.005,
            "summary": calibration_summary(
                cases,
                Thresholds(
                    value, thresholds.sentiment_escalate_at, thresholds.sentiment_high_priority_at
                ),
            ),
        }
        for value in TRADE_OFF_THRESHOLDS
    ]
    return {
        "thresholds": thresholds,
        "summary": calibration_summary(cases, thresholds),
        "rows": rows,
        "trade_off": trade_off,
        "total": len(cases),
    }


def _calibration_cases(flow: SupportFlow, examples: Sequence[str]) -> list[CalibrationCase]:
    """The open runs of the test questions and examples, cached per draft revision (a slider
    move only re-decides them)."""
    questions = list(questions_of_workspace(workspace=flow.workspace))
    signature = json.dumps(
        [
            flow.pk,
            flow.draft_revision,
            [(q.pk, q.updated_at.isoformat()) for q in questions],
            list(examples),
        ]
    )
    key = "calibration:" + hashlib.sha256(signature.encode()).hexdigest()
    cases: list[CalibrationCase] | None = cache.get(key)
    if cases is None:
        version = open_version(flow_draft_version(flow))
        cases = [
            calibration_case(
                version=version,
                label=question.name,
                turns=question.turns,
                customer=question.customer,
                question=question,
            )
            for question in questions
        ]
        cases += [
            calibration_case(version=version, label=text, turns=[text], customer={})
            for text in examples
        ]
        cache.set(key, cases, CALIBRATION_CACHE_SECONDS)
    return cases


# --- simulator -------------------------------------------------------------------------------


@require_GET
@workspace_member_required()
def simulator(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    can_simulate = Role(membership.role) in ADMINS_AND_AGENTS
    return render(
        request,
        "routing/simulator.html",
        _context(
            membership,
            flow,
            tab="simulator",
            form=SimulatorForm() if can_simulate else None,
            can_simulate=can_simulate,
        ),
    )


@require_POST
@workspace_member_required(roles=ADMINS_AND_AGENTS)
def simulator_run(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    form = SimulatorForm(request.POST)
    simulation = None
    if form.is_valid():
        values = form.cleaned_data
        context = MessageContext(
            history=values["history"],
            customer=form.customer(),
            previous_language=values.get("customer_language") or None,
        )
        try:
            decision, record = services.flow_simulate(
                flow=flow, message=values["message"], context=context
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            simulation = simulation_view(decision, record)
            simulation["brief"] = decision.brief if decision.outcome == "handoff" else None
    extra = {"form": form, "simulation": simulation, "can_simulate": True}
    if getattr(request, "htmx", None):
        # htmx swaps only successful responses: form errors come back as a 200 in the region.
        response = render(
            request,
            "routing/_simulation_result.html",
            _context(membership, flow, show_form_errors=True, **extra),
        )
    else:
        response = render(
            request,
            "routing/simulator.html",
            _context(membership, flow, tab="simulator", **extra),
            status=400 if form.errors else 200,
        )
    patch_vary_headers(response, ("HX-Request",))
    return response
