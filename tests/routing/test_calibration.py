"""Calibration decides, from one run with the thresholds open, what the flow would do at other
thresholds. It must agree with really running the flow at those thresholds."""

from __future__ import annotations

import pytest

from routing.calibration import (
    Thresholds,
    calibration_case,
    calibration_summary,
    open_version,
    treatment_verdict,
)
from routing.models import FlowVersion, TestQuestion
from routing.question_set import case_run, flow_draft_version, question_save
from routing.services import flow_rules_update

pytestmark = pytest.mark.django_db

MESSAGES = [
    ["How long is the password reset link valid?"],
    ["How do I configure a Kubernetes ingress controller?"],
    ["This is the third time I ask and nobody helps, your product is useless!!"],
    ["Can I talk to a human please?"],
    ["O link de redefinição de senha vale por quanto tempo?"],
    ["How do I download my invoices?", "And how long is the reset link valid?"],
    ["I want a refund, I was charged twice and I'm furious"],
]
GRID = [
    Thresholds(0.3, -0.5, -0.75),
    Thresholds(0.45, -0.2, -0.6),
    Thresholds(0.6, 0.0, -0.4),
    Thresholds(0.99, 0.5, 0.2),
]
REFUND_RULE = {
    "name": "Refunds",
    "conditions": [{"fact": "message", "op": "contains_any", "value": ["refund"]}],
    "action": {"type": "handoff", "queue": "Tier 2", "priority": "urgent"},
}


def at(version: FlowVersion, thresholds: Thresholds) -> FlowVersion:
    snapshot = dict(version.snapshot)
    snapshot["settings"] = {**snapshot["settings"], **thresholds.__dict__}
    return FlowVersion(flow=version.flow, number=0, snapshot=snapshot)


def test_calibrated_treatments_match_real_runs_at_each_threshold(workspace, synced_source):
    flow = workspace.flows.get()
    flow_rules_update(flow=flow, rules=[REFUND_RULE], expected_revision=flow.draft_revision)
    flow.refresh_from_db()
    draft = flow_draft_version(flow)
    opened = open_version(draft)
    cases = [
        calibration_case(version=opened, label=turns[0], turns=turns, customer={})
        for turns in MESSAGES
    ]

    for thresholds in GRID:
        for turns, case in zip(MESSAGES, cases, strict=True):
            real = case_run(
                version=at(draft, thresholds), workspace_id=workspace.pk, turns=turns, customer={}
            )
            calibrated = case.treatment(thresholds)
            assert (calibrated.outcome, calibrated.reason, calibrated.priority) == (
                real.outcome,
                real.reason,
                real.priority,
            ), (thresholds, turns)
            if real.outcome == "answer":
                assert calibrated.cited_first == (real.cited[0] if real.cited else "")
    # The grid really moves the outcomes: not every threshold treats the set alike.
    answered = {calibration_summary(cases, thresholds).answered for thresholds in GRID}
    assert len(answered) > 1


def test_saved_questions_are_graded_and_wrong_answers_counted(workspace, admin, synced_source):
    flow = workspace.flows.get()
    opened = open_version(flow_draft_version(flow))
    in_scope = question_save(
        workspace=workspace,
        data={
            "name": "reset",
            "turns": ["How long is the password reset link valid?"],
            "expected_outcome": "answer",
            "expected_articles": ["en/reset-password.md"],
        },
        by=admin,
    )
    out_of_scope = question_save(
        workspace=workspace,
        data={
            "name": "k8s",
            "turns": ["How do I configure a Kubernetes ingress controller?"],
            "expected_outcome": "handoff",
        },
        by=admin,
    )
    cases = [
        calibration_case(
            version=opened, label=q.name, turns=q.turns, customer=q.customer, question=q
        )
        for q in TestQuestion.objects.filter(pk__in=(in_scope.pk, out_of_scope.pk))
    ]
    by_name = {case.label: case for case in cases}

    permissive = Thresholds(0.0, -1.0, -1.0)
    strict = Thresholds(0.99, -0.5, -0.75)

    assert treatment_verdict(by_name["reset"], by_name["reset"].treatment(strict)) == (
        "missed answer"
    )
    assert treatment_verdict(by_name["k8s"], by_name["k8s"].treatment(strict)) == "right"
    loose = calibration_summary(cases, permissive)
    tight = calibration_summary(cases, strict)
    assert (tight.answered, tight.missed_answers, tight.graded) == (0, 1, 2)
    assert loose.answered >= 1 and loose.wrong_answers + loose.right <= 2
