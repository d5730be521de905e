"""Readable text for a flow's Test questions, Publish and Export / import pages: changes between
two states of a flow (the publish diff, what an import changed) and test-question results side by
side."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from console.audit import Change
from console.flow_display import (
    OUTCOME_LABELS,
    REASON_LABELS,
    language_name,
    rule_lines,
    value_text,
)
from routing.question_set import ComparedResult, QuestionResult

SETTING_LABELS = {
    "guardrail_prompt": "Guardrail prompt",
    "confidence_threshold": "Confidence threshold",
    "languages": "Languages",
    "default_language": "Default language",
    "fallback_messages": "Fallback message",
    "handoff_messages": "Handoff message",
    "sentiment_escalate_at": "Escalate at sentiment",
    "sentiment_high_priority_at": "High priority at sentiment",
    "max_ai_turns": "Max AI turns",
    "generator": "Answer generator",
    "business_hours": "Business hours",
}
# A text longer than this is shown as a block of its own, not inline.
LONG_TEXT = 80


@dataclass(frozen=True)
class ChangeLine:
    group: str  # Settings, Rules, Queues, Actions, Approvers
    kind: str  # added, removed, changed, reordered
    subject: str
    old: list[str]
    new: list[str]

    @property
    def long(self) -> bool:
        return any(len(line) > LONG_TEXT for line in [*self.old, *self.new])


@dataclass(frozen=True)
class ChangeGroup:
    name: str
    lines: list[ChangeLine]


def change_groups(changes: Iterable[Change]) -> list[ChangeGroup]:
    """Changes as a person reads them, grouped (settings, rules, queues, ...) in that order."""
    lines = [_change_line(change) for change in changes]
    order = ["Settings", "Rules", "Queues", "Actions", "Approvers"]
    return [
        ChangeGroup(name, [line for line in lines if line.group == name])
        for name in order
        if any(line.group == name for line in lines)
    ]


def _change_line(change: Change) -> ChangeLine:
    kind = "added" if change.old is None else "removed" if change.new is None else "changed"
    old, new, field = change.old, change.new, change.field
    if field == "rule order":
        return ChangeLine(
            "Rules", "reordered", "Order of the rules", _numbered(old), _numbered(new)
        )
    if field.startswith("rule "):
        rule = new if new is not None else old
        subject = f"Rule “{rule.get('name', '')}”" if isinstance(rule, Mapping) else field
        return ChangeLine("Rules", kind, subject, _rule_text(old), _rule_text(new))
    if field.startswith("queue "):
        queue = new if new is not None else old
        subject = f"Queue “{queue.get('name', '')}”" if isinstance(queue, Mapping) else field
        return ChangeLine("Queues", kind, subject, _queue_text(old), _queue_text(new))
    group = (
        "Actions"
        if field.startswith("action ")
        else "Approvers"
        if field.startswith("approvers of ")
        else "Settings"
    )
    subject = _setting_label(field) if group == "Settings" else _sentence(field)
    return ChangeLine(group, kind, subject, _values(old), _values(new))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _setting_label(path: str) -> str:
    """ "fallback_messages.pt" -> "Fallback message (Portuguese)", "generator.model" -> "Answer
    generator: model"."""
    name, _, rest = path.partition(".")
    label = SETTING_LABELS.get(name, name.replace("_", " ").capitalize())
    if not rest:
        return label
    if name in ("fallback_messages", "handoff_messages"):
        return f"{label} ({language_name(rest)})"
    return f"{label}: {rest.replace('.', ' ').replace('_', ' ')}"


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, Mapping) and value:
        return [f"{key}: {value_text(item)}" for key, item in value.items()]
    return [value_text(value)]


def _numbered(names: Any) -> list[str]:
    return [f"{n}. {name}" for n, name in enumerate(names or [], start=1)]


def _rule_text(rule: Any) -> list[str]:
    if not isinstance(rule, Mapping):
        return []
    line = rule_lines([dict(rule)])[0]
    joined = "; ".join(line.conditions)
    return [
        f"When {'any' if line.match == 'any' else 'all'} of: {joined}",
        f"Then: {line.action}",
        *([] if line.enabled else ["Switched off"]),
    ]


def _queue_text(queue: Any) -> list[str]:
    if not isinstance(queue, Mapping):
        return []
    return [
        f"Tier {queue.get('tier')}",
        f"Priority raised after {queue.get('sla_wait_minutes')} min waiting",
    ]


# --- test questions --------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultCell:
    """What one version of the flow did with one question, and whether that was expected."""

    outcome: str
    outcome_label: str
    cited: str
    language: str
    language_name: str
    reason_label: str
    priority: str
    passed: bool
    failures: list[str]


@dataclass(frozen=True)
class ResultRow:
    question_id: int
    name: str
    turns: list[str]
    expectation: str
    draft: ResultCell
    published: ResultCell | None
    changed: bool


@dataclass(frozen=True)
class ResultTable:
    rows: list[ResultRow]
    with_published: bool

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def draft_passed(self) -> int:
        return sum(row.draft.passed for row in self.rows)

    @property
    def draft_failed(self) -> int:
        return self.total - self.draft_passed

    @property
    def published_passed(self) -> int:
        return sum(bool(row.published and row.published.passed) for row in self.rows)

    @property
    def changed(self) -> int:
        return sum(row.changed for row in self.rows)


def _cell(result: QuestionResult) -> ResultCell:
    run = result.run
    return ResultCell(
        outcome=run.outcome,
        outcome_label=OUTCOME_LABELS.get(run.outcome, run.outcome),
        cited=run.cited[0] if run.cited else "",
        language=run.language,
        language_name=language_name(run.language),
        reason_label=REASON_LABELS.get(run.reason, run.reason) if run.outcome == "handoff" else "",
        priority=run.priority if run.outcome == "handoff" else "",
        passed=result.passed,
        failures=result.failures,
    )


def expectation_text(
    outcome: str, articles: Sequence[str], language: str, reason: str, priority: str
) -> str:
    parts = ["answers" if outcome == "answer" else "hands off"]
    if articles:
        parts.append(f"citing {' or '.join(articles)} first")
    if reason:
        parts.append(f"for {REASON_LABELS.get(reason, reason).lower()}")
    if priority:
        parts.append(f"at {priority} priority")
    if language:
        parts.append(f"in {language_name(language)}")
    return " ".join(parts)


def _row(result: QuestionResult, published: QuestionResult | None, changed: bool) -> ResultRow:
    question = result.question
    return ResultRow(
        question_id=question.pk,
        name=question.name,
        turns=list(question.turns),
        expectation=expectation_text(
            question.expected_outcome,
            question.expected_articles,
            question.expected_language,
            question.expected_reason,
            question.expected_priority,
        ),
        draft=_cell(result),
        published=_cell(published) if published is not None else None,
        changed=changed,
    )


def compared_table(results: Sequence[ComparedResult]) -> ResultTable:
    """Draft and published side by side; failing and changed questions first."""
    rows = [_row(r.draft, r.published, r.changed) for r in results]
    rows.sort(key=lambda row: (row.draft.passed, not row.changed, row.name))
    return ResultTable(rows=rows, with_published=any(r.published is not None for r in results))


def draft_table(results: Sequence[QuestionResult]) -> ResultTable:
    rows = [_row(result, None, False) for result in results]
    rows.sort(key=lambda row: (row.draft.passed, row.name))
    return ResultTable(rows=rows, with_published=False)
