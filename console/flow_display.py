"""Readable text for the console's Flows pages: rules as sentences, and a decision's trace as
tables (facts, stage timings, rules, retrieval hits).

Traces are read defensively: the pipeline may add stages or facts, and a page must still show
whatever it finds rather than fail on a key it does not know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from console.knowledge_forms import LANGUAGE_NAMES
from routing.business_hours import DAYS, BusinessHours
from routing.flow_settings import FlowSettings
from routing.models import Action, ActionPolicy, ActionRisk, DecisionTrace
from routing.pipeline import MessageDecision

FACT_LABELS = {
    "message": "Message",
    "language": "Language",
    "sentiment_score": "Sentiment score",
    "signals": "Frustration signals",
    "wants_human": "Asks for a human",
    "retrieval_confidence": "Retrieval confidence",
    "turns": "Turns",
    "repeated_questions": "Repeated questions",
    "business_hours": "Within business hours",
    "customer_plan": "Customer plan",
    "customer_attributes": "Customer attributes",
    "signal": "Signal",
    "customer_attribute": "Customer attribute",
}
OPERATORS = {
    "lt": "is below",
    "lte": "is at most",
    "gt": "is above",
    "gte": "is at least",
    "eq": "is",
    "neq": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "is": "is",
    "present": "is present",
    "absent": "is absent",
    "exists": "is set",
    "contains_any": "contains any of",
    "contains_all": "contains all of",
    "contains_none": "contains none of",
}
STAGE_LABELS = {
    "language": "Language detection",
    "sentiment": "Sentiment",
    "retrieval": "Retrieval",
    "rules": "Rules",
    "answer": "Answer",
    "groundedness": "Groundedness check",
}
OUTCOME_LABELS = {"answer": "Answered", "handoff": "Handed off", "reply": "Rule reply"}
REASON_LABELS = {
    "low_confidence": "Low confidence: the knowledge does not cover it well enough",
    "sentiment": "Negative sentiment",
    "human_request": "The customer asked for a human",
    "rule": "A routing rule",
    "ai_turns": "Too many AI replies without a resolution",
}
GENERATOR_LABELS = {
    "grounded": "Grounded composer (offline, quotes the knowledge)",
    "openai": "OpenAI-compatible endpoint",
}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def value_text(value: Any) -> str:
    """One fact or rule value as a person reads it."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(value_text(item) for item in value) if value else "none"
    if isinstance(value, Mapping):
        if not value:
            return "none"
        return ", ".join(f"{key}: {value_text(item)}" for key, item in value.items())
    return str(value)


def _quoted(value: Any) -> str:
    values = value if isinstance(value, list | tuple) else [value]
    return " or ".join(f"“{item}”" for item in values)


def condition_text(condition: Mapping[str, Any]) -> str:
    fact, op = str(condition.get("fact", "")), str(condition.get("op", ""))
    value = condition.get("value")
    operator = OPERATORS.get(op, op)
    if fact == "signal":
        return f"the “{value}” signal {operator}"
    if fact == "customer_attribute":
        subject = f"customer attribute “{condition.get('key', '')}”"
        if op == "exists":
            return f"{subject} {operator}"
        return f"{subject} {operator} {_quoted(value)}"
    subject = FACT_LABELS.get(fact, fact).lower()
    if fact == "message" or isinstance(value, str | list):
        return f"{subject} {operator} {_quoted(value)}"
    return f"{subject} {operator} {value_text(value)}"


def action_text(action: Mapping[str, Any]) -> str:
    kind = action.get("type")
    if kind == "handoff":
        return f"Hand off to {action.get('queue')} ({action.get('priority', 'normal')} priority)"
    if kind == "reply":
        return f"Reply with “{action.get('text', '')}” instead of the AI"
    if kind == "tag":
        return f"Tag the conversation “{action.get('text', '')}”"
    if kind == "answer":
        return "Let the AI answer"
    return str(kind)


@dataclass(frozen=True)
class RuleLine:
    position: int
    name: str
    enabled: bool
    match: str  # "all" or "any"
    conditions: list[str]
    action: str


def rule_lines(rules: list[dict[str, Any]]) -> list[RuleLine]:
    return [
        RuleLine(
            position=position,
            name=str(rule.get("name", "")),
            enabled=bool(rule.get("enabled", True)),
            match=str(rule.get("match", "all")),
            conditions=[condition_text(c) for c in rule.get("conditions", [])],
            action=action_text(rule.get("action") or {}),
        )
        for position, rule in enumerate(rules, start=1)
    ]


def safe_link(url: Any) -> str:
    """Only web addresses become links; anything else (javascript:, relative) is shown as text."""
    text = str(url or "")
    return text if text.startswith(("https://", "http://")) else ""


@dataclass
class TraceView:
    facts: list[tuple[str, str]] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)
    total_ms: float = 0.0
    fired_rule: str = ""
    fired_action: str = ""
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)


def trace_view(trace: Mapping[str, Any]) -> TraceView:
    stages: Mapping[str, Any] = trace.get("stages") or {}
    timings = [
        (STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize()), float(ms))
        for stage, ms in (trace.get("timings_ms") or {}).items()
        if isinstance(ms, int | float)
    ]
    facts = [
        (FACT_LABELS.get(name, name.replace("_", " ").capitalize()), value_text(value))
        for name, value in (trace.get("facts") or {}).items()
    ]
    rules: Mapping[str, Any] = stages.get("rules") or {}
    fired_rule = str(rules.get("rule") or "")
    evaluations = [
        {
            "rule": evaluation.get("rule", ""),
            "enabled": evaluation.get("enabled", True),
            "matched": bool(evaluation.get("matched")),
            "conditions": [
                {
                    "text": condition_text(result.get("condition") or {}),
                    "matched": bool(result.get("matched")),
                    "actual": value_text(result.get("actual")),
                }
                for result in evaluation.get("conditions", [])
            ],
        }
        for evaluation in rules.get("evaluations", [])
    ]
    hits = [
        {**hit, "link": safe_link(hit.get("url"))}
        for hit in (stages.get("retrieval") or {}).get("hits", [])
    ]
    return TraceView(
        facts=facts,
        timings=timings,
        total_ms=round(sum(ms for _, ms in timings), 2),
        fired_rule=fired_rule,
        fired_action=action_text(rules.get("action") or {}) if fired_rule else "",
        evaluations=evaluations,
        hits=hits,
    )


# --- the overview's diagram ------------------------------------------------------------------

DAY_NAMES = dict(
    zip(
        DAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)


@dataclass(frozen=True)
class ActionLine:
    name: str
    risk: str
    risk_label: str
    policy_label: str


def action_lines(actions: Iterable[Action]) -> list[ActionLine]:
    """The actions the AI may take: enabled ones whose policy is not "never"."""
    return [
        ActionLine(
            name=action.name,
            risk=action.risk,
            risk_label=ActionRisk(action.risk).label,
            policy_label=ActionPolicy(action.policy).label,
        )
        for action in actions
        if action.enabled and action.policy != ActionPolicy.NEVER
    ]


def hours_lines(hours: BusinessHours) -> list[tuple[str, str]]:
    """Each open day with its hours, Monday first (none: the team is always there)."""
    return [(DAY_NAMES[day], hours.days[day]) for day in DAYS if day in hours.days]


@dataclass(frozen=True)
class FlowDiagram:
    """What the overview's stage cards show of a draft, and of the workspace around it."""

    settings: FlowSettings
    knowledge_sources: int
    knowledge_articles: int
    passages_used: int
    rules: list[RuleLine]
    queues: list[str]
    actions: list[ActionLine]

    @property
    def languages(self) -> list[dict[str, Any]]:
        default = self.settings.default_language
        return [
            {"code": code, "name": language_name(code), "default": code == default}
            for code in self.settings.languages
        ]

    @property
    def enabled_rules(self) -> int:
        return sum(1 for rule in self.rules if rule.enabled)

    @property
    def hours(self) -> list[tuple[str, str]]:
        return hours_lines(self.settings.hours)

    @property
    def generator_label(self) -> str:
        kind = self.settings.generator.kind
        return GENERATOR_LABELS.get(kind, kind)


def simulation_view(decision: MessageDecision, record: DecisionTrace) -> dict[str, Any]:
    """What the simulator's result region shows: the decision, its citations and its trace."""
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
