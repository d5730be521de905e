"""Calibration: how a set of questions would be treated at other thresholds, without running
the flow again for every position of a slider.

Each question runs once through the draft with the thresholds wide open (confidence 0, escalate
only at -1), so every turn goes as far as the pipeline can take it: the rules, the customer's
request for a human, the answer composer. What the confidence and sentiment thresholds would
have done is then decided from the recorded facts, in the pipeline's own order:

    rule -> customer asks for a human -> sentiment at or below "escalate at" -> AI turns
    -> confidence below the threshold -> the composer's answer (or its fallback)

`tests/routing/test_calibration.py` checks this against real runs at several thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from routing.flow_settings import FlowSettings
from routing.models import FlowVersion, TestQuestion
from routing.question_set import case_run

# Thresholds that let every message through to the composer (the validated extremes).
OPEN_THRESHOLDS = {
    "confidence_threshold": 0.0,
    "sentiment_escalate_at": -1.0,
    "sentiment_high_priority_at": -1.0,
}


@dataclass(frozen=True)
class TurnFacts:
    """One turn as the open run saw it."""

    outcome: str  # answer, reply or handoff, with the thresholds open
    reason: str
    priority: str
    confidence: float
    sentiment: float
    cited: tuple[str, ...]
    language: str


@dataclass(frozen=True)
class Thresholds:
    confidence_threshold: float
    sentiment_escalate_at: float
    sentiment_high_priority_at: float

    @classmethod
    def of(cls, settings: FlowSettings) -> Thresholds:
        return cls(
            settings.confidence_threshold,
            settings.sentiment_escalate_at,
            settings.sentiment_high_priority_at,
        )


@dataclass(frozen=True)
class Treatment:
    """What would happen to a question (after its last turn, or at its handoff)."""

    outcome: str  # answer or handoff ("reply" rules count as answers, as in the evaluation)
    reason: str = ""
    priority: str = ""
    cited_first: str = ""
    turn: int = 1  # the turn it ended on


@dataclass
class CalibrationCase:
    """A question (saved, or an example message) with its turns' facts from the open run."""

    label: str
    turns: list[TurnFacts]
    question: TestQuestion | None = None  # None for an example message
    expected: dict[str, Any] = field(default_factory=dict)

    def treatment(self, thresholds: Thresholds) -> Treatment:
        for number, turn in enumerate(self.turns, start=1):
            decided = turn_treatment(turn, thresholds)
            if decided.outcome == "handoff":
                return Treatment(**{**decided.__dict__, "turn": number})
        last = turn_treatment(self.turns[-1], thresholds)
        return Treatment(**{**last.__dict__, "turn": len(self.turns)})


def turn_treatment(turn: TurnFacts, thresholds: Thresholds) -> Treatment:
    """The pipeline's decision order, applied to one turn's recorded facts."""
    if turn.outcome == "reply":
        return Treatment("answer")
    if turn.outcome == "handoff" and turn.reason == "rule":
        return Treatment("handoff", "rule", turn.priority)
    sentiment_priority = (
        "high" if turn.sentiment <= thresholds.sentiment_high_priority_at else "normal"
    )
    if turn.outcome == "handoff" and turn.reason == "human_request":
        return Treatment("handoff", "human_request", sentiment_priority)
    if turn.sentiment <= thresholds.sentiment_escalate_at:
        return Treatment("handoff", "sentiment", sentiment_priority)
    if turn.outcome == "handoff" and turn.reason == "ai_turns":
        return Treatment("handoff", "ai_turns", "normal")
    if turn.confidence < thresholds.confidence_threshold:
        return Treatment("handoff", "low_confidence", "normal")
    if turn.outcome == "handoff":  # the composer or the guard found nothing to say
        return Treatment("handoff", "low_confidence", "normal")
    return Treatment("answer", cited_first=turn.cited[0] if turn.cited else "")


def open_version(version: FlowVersion) -> FlowVersion:
    """`version` (e.g. the draft) with the thresholds open, unsaved."""
    snapshot = dict(version.snapshot)
    snapshot["settings"] = {**snapshot["settings"], **OPEN_THRESHOLDS}
    return FlowVersion(flow=version.flow, number=version.number, snapshot=snapshot)


def calibration_case(
    *,
    version: FlowVersion,
    label: str,
    turns: Sequence[str],
    customer: dict[str, Any],
    question: TestQuestion | None = None,
) -> CalibrationCase:
    """Run the turns once with the thresholds open (`version` must be an open version)."""
    run = case_run(
        version=version, workspace_id=version.flow.workspace_id, turns=turns, customer=customer
    )
    facts = []
    for decision in run.decisions:
        seen = decision.trace.get("facts", {})
        facts.append(
            TurnFacts(
                outcome=decision.outcome,
                reason=decision.reason,
                priority=decision.priority,
                confidence=float(seen.get("retrieval_confidence", 0.0)),
                sentiment=float(seen.get("sentiment_score", 0.0)),
                cited=tuple(citation["external_id"] for citation in decision.citations),
                language=decision.language,
            )
        )
    expected = {}
    if question is not None:
        expected = {
            "outcome": question.expected_outcome,
            "articles": question.expected_articles,
            "reason": question.expected_reason,
            "priority": question.expected_priority,
        }
    return CalibrationCase(label=label, turns=facts, question=question, expected=expected)


def treatment_verdict(case: CalibrationCase, treatment: Treatment) -> str:
    """For a saved question: "right", "wrong answer" (answered what should go to a human: the
    worst error), "missed answer" (handed off what the AI should answer), "wrong source" or
    "wrong handoff" (right outcome, wrong article or reason/priority). "" for examples."""
    expected = case.expected
    if not expected:
        return ""
    if expected["outcome"] == "handoff":
        if treatment.outcome == "answer":
            return "wrong answer"
        if (expected["reason"] and treatment.reason != expected["reason"]) or (
            expected["priority"] and treatment.priority != expected["priority"]
        ):
            return "wrong handoff"
        return "right"
    if treatment.outcome == "handoff":
        return "missed answer"
    if expected["articles"] and treatment.cited_first not in expected["articles"]:
        return "wrong source"
    return "right"


@dataclass(frozen=True)
class CalibrationSummary:
    answered: int
    handed_off: int
    high_priority: int
    right: int
    wrong_answers: int
    missed_answers: int
    graded: int  # saved questions (examples are not graded)


def calibration_summary(
    cases: Sequence[CalibrationCase], thresholds: Thresholds
) -> CalibrationSummary:
    treatments = [(case, case.treatment(thresholds)) for case in cases]
    verdicts = [treatment_verdict(case, treatment) for case, treatment in treatments]
    return CalibrationSummary(
        answered=sum(1 for _, t in treatments if t.outcome == "answer"),
        handed_off=sum(1 for _, t in treatments if t.outcome == "handoff"),
        high_priority=sum(1 for _, t in treatments if t.priority in ("high", "urgent")),
        right=verdicts.count("right"),
        wrong_answers=verdicts.count("wrong answer"),
        missed_answers=verdicts.count("missed answer"),
        graded=sum(1 for case in cases if case.expected),
    )
