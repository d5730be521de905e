"""Test questions: the workspace's saved questions with what should happen to them, run against
the draft and the published version before publishing. (The module and its functions avoid the
`test_` prefix, which pytest would collect.)

A question is a case of the evaluation format (../shared/eval/README.md): customer turns of one
conversation, the customer's attributes, and the expectation (answer with one of the expected
articles cited first, or hand off; optionally in a language, for a reason, at a priority).
Importing a JSONL file of cases creates or updates questions by name (the case's `id`).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from console.audit import Change, audit_record
from console.models import User, Workspace
from routing.flow_settings import SUPPORTED_LANGUAGES
from routing.models import FlowVersion, SupportFlow, TestQuestion
from routing.pipeline import MessageContext, MessageDecision, flow_message_decide
from routing.rules import PRIORITIES

QUESTION_NAME_MAX_LENGTH = 120
QUESTION_MAX_TURNS = 20
TURN_MAX_LENGTH = 4000
IMPORT_MAX_BYTES = 2_000_000
IMPORT_MAX_QUESTIONS = 1000
REASONS = ("low_confidence", "sentiment", "human_request", "rule", "ai_turns")
CUSTOMER_KEYS_MAX = 30


# --- the saved set ---------------------------------------------------------------------------


def question_clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """The model fields of a question from form or API data, or ValidationError by field."""
    errors: dict[str, str] = {}
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "Give the question a name."
    elif len(name.strip()) > QUESTION_NAME_MAX_LENGTH:
        errors["name"] = f"At most {QUESTION_NAME_MAX_LENGTH} characters."
    turns = data.get("turns")
    if isinstance(turns, str):
        turns = [turns]
    if (
        not isinstance(turns, list)
        or not turns
        or not all(isinstance(turn, str) and turn.strip() for turn in turns)
    ):
        errors["turns"] = "Write at least one customer message (each one non-empty)."
    elif len(turns) > QUESTION_MAX_TURNS:
        errors["turns"] = f"At most {QUESTION_MAX_TURNS} customer messages."
    elif any(len(turn) > TURN_MAX_LENGTH for turn in turns):
        errors["turns"] = f"A message has at most {TURN_MAX_LENGTH} characters."
    customer = data.get("customer") or {}
    if not isinstance(customer, Mapping) or len(customer) > CUSTOMER_KEYS_MAX:
        errors["customer"] = "Customer attributes are a few names with text or number values."
    elif not all(
        isinstance(key, str) and isinstance(value, str | int | float | bool)
        for key, value in customer.items()
    ):
        errors["customer"] = "Each customer attribute is a name with a text or number value."
    outcome = data.get("expected_outcome")
    if outcome not in TestQuestion.Outcome.values:
        errors["expected_outcome"] = "Expect an answer or a handoff."
    articles = data.get("expected_articles") or []
    if isinstance(articles, str):
        articles = [line.strip() for line in articles.splitlines() if line.strip()]
    if not isinstance(articles, list) or not all(isinstance(a, str) for a in articles):
        errors["expected_articles"] = "List the acceptable articles by external id."
    language = data.get("expected_language") or ""
    if language and language not in SUPPORTED_LANGUAGES:
        errors["expected_language"] = f"Choose one of {', '.join(SUPPORTED_LANGUAGES)}."
    reason = data.get("expected_reason") or ""
    if reason and reason not in REASONS:
        errors["expected_reason"] = f"Choose one of {', '.join(REASONS)}."
    priority = data.get("expected_priority") or ""
    if priority and priority not in PRIORITIES:
        errors["expected_priority"] = f"Choose one of {', '.join(PRIORITIES)}."
    if errors:
        raise ValidationError(errors)
    assert isinstance(name, str) and isinstance(turns, list)  # checked above
    return {
        "name": name.strip(),
        "turns": [turn.strip() for turn in turns],
        "customer": dict(customer),
        "expected_outcome": outcome,
        "expected_articles": articles if outcome == "answer" else [],
        "expected_language": language,
        "expected_reason": reason if outcome == "handoff" else "",
        "expected_priority": priority if outcome == "handoff" else "",
    }


def question_json(question: TestQuestion) -> dict[str, Any]:
    """The question's fields as `question_clean` takes them (and the audit log keeps)."""
    return {
        "name": question.name,
        "turns": question.turns,
        "customer": question.customer,
        "expected_outcome": question.expected_outcome,
        "expected_articles": question.expected_articles,
        "expected_language": question.expected_language,
        "expected_reason": question.expected_reason,
        "expected_priority": question.expected_priority,
    }


@transaction.atomic
def question_save(
    *,
    workspace: Workspace,
    data: Mapping[str, Any],
    by: User | None,
    question: TestQuestion | None = None,
) -> TestQuestion:
    clean = question_clean(data)
    clash = TestQuestion.objects.filter(workspace=workspace, name=clean["name"])
    if question is not None:
        clash = clash.exclude(pk=question.pk)
    if clash.exists():
        raise ValidationError(
            {"name": f"There is already a test question named {clean['name']!r}."}
        )
    before = question_json(question) if question is not None else None
    question = question or TestQuestion(workspace=workspace, created_by=by)
    for name, value in clean.items():
        setattr(question, name, value)
    question.save()
    if before != clean:
        audit_record(
            workspace=workspace,
            user=by,
            area="test questions",
            subject=f"test question {clean['name']}",
            changes=[Change("question", before, clean)],
        )
    return question


@transaction.atomic
def question_delete(*, question: TestQuestion, by: User | None) -> None:
    audit_record(
        workspace=question.workspace,
        user=by,
        area="test questions",
        subject=f"test question {question.name}",
        changes=[Change("question", question_json(question), None)],
    )
    question.delete()


# --- the JSONL case format -------------------------------------------------------------------


def case_question_data(case: Any) -> dict[str, Any]:
    """A case of the evaluation format as question data (not yet validated)."""
    if not isinstance(case, dict):
        raise ValidationError("A case is a JSON object.")
    expect = case.get("expect")
    if not isinstance(expect, dict):
        raise ValidationError("A case needs an `expect` object.")
    return {
        "name": str(case.get("id") or "").strip(),
        "turns": case.get("turns"),
        "customer": case.get("customer") or {},
        "expected_outcome": expect.get("outcome"),
        "expected_articles": expect.get("articles") or [],
        "expected_language": expect.get("language") or "",
        "expected_reason": expect.get("reason") or "",
        "expected_priority": expect.get("priority") or "",
    }


def question_case(question: TestQuestion) -> dict[str, Any]:
    """The question in the evaluation format, for export."""
    expect: dict[str, Any] = {"outcome": question.expected_outcome}
    if question.expected_articles:
        expect["articles"] = question.expected_articles
    for key, value in (
        ("language", question.expected_language),
        ("reason", question.expected_reason),
        ("priority", question.expected_priority),
    ):
        if value:
            expect[key] = value
    case: dict[str, Any] = {"id": question.name, "turns": question.turns}
    if question.customer:
        case["customer"] = question.customer
    case["expect"] = expect
    return case


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int


@transaction.atomic
def questions_import(*, workspace: Workspace, text: str, by: User | None) -> ImportSummary:
    """Create or update (by name) one question per line of JSONL. All or nothing: a bad line is
    refused with its line number and nothing is saved."""
    if len(text.encode()) > IMPORT_MAX_BYTES:
        raise ValidationError({"file": f"The file is larger than {IMPORT_MAX_BYTES // 1000} kB."})
    parsed: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = case_question_data(json.loads(line))
            if not data["name"]:
                data["name"] = f"case {number}"
            parsed.append((number, question_clean(data)))
        except ValueError as error:  # json.JSONDecodeError
            raise ValidationError({"file": f"Line {number}: not JSON ({error})."}) from None
        except ValidationError as error:
            raise ValidationError({"file": f"Line {number}: {_first_error(error)}"}) from None
    if not parsed:
        raise ValidationError({"file": "The file holds no cases (one JSON object per line)."})
    if len(parsed) > IMPORT_MAX_QUESTIONS:
        raise ValidationError({"file": f"At most {IMPORT_MAX_QUESTIONS} cases per file."})
    names = [data["name"] for _, data in parsed]
    repeated = next((name for name in names if names.count(name) > 1), None)
    if repeated is not None:
        raise ValidationError({"file": f"The id {repeated!r} appears twice."})
    existing = {q.name: q for q in TestQuestion.objects.filter(workspace=workspace, name__in=names)}
    for _, data in parsed:
        question_save(workspace=workspace, data=data, by=by, question=existing.get(data["name"]))
    return ImportSummary(created=len(parsed) - len(existing), updated=len(existing))


def _first_error(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        name, messages = next(iter(error.message_dict.items()))
        return f"{name}: {messages[0]}"
    return error.messages[0]


# --- running the set -------------------------------------------------------------------------


@dataclass
class CaseRun:
    """What the flow did with one case's turns (after the last turn, or at the handoff)."""

    outcome: str
    cited: list[str]
    language: str
    reason: str
    priority: str
    reply: str
    latencies_ms: list[float]
    decisions: list[MessageDecision] = field(default_factory=list)

    @property
    def facts(self) -> dict[str, Any]:
        """The last decision's facts (confidence, sentiment, ...), as the trace recorded them."""
        return dict(self.decisions[-1].trace.get("facts", {})) if self.decisions else {}


def customer_context(customer: Mapping[str, Any]) -> MessageContext:
    """A fresh conversation's context for a customer given as case attributes."""
    return MessageContext(
        customer={
            "name": customer.get("name"),
            "plan": customer.get("plan"),
            "attributes": {k: v for k, v in customer.items() if k not in ("plan", "name")},
        }
    )


def case_run(
    *,
    version: FlowVersion,
    workspace_id: int,
    turns: Sequence[str],
    customer: Mapping[str, Any],
    on_decision: Callable[[str, MessageDecision], None] | None = None,
) -> CaseRun:
    """Run the turns as one conversation under `version` (published, or the draft as an unsaved
    version), stopping at a handoff as a conversation would."""
    context = customer_context(customer)
    decisions: list[MessageDecision] = []
    latencies = []
    for turn in turns:
        started = time.perf_counter()
        decision = flow_message_decide(
            version=version, workspace_id=workspace_id, message=turn, context=context
        )
        latencies.append(round((time.perf_counter() - started) * 1000, 1))
        decisions.append(decision)
        if on_decision is not None:
            on_decision(turn, decision)
        if decision.outcome == "handoff":
            break
        context.history.append(turn)
        context.previous_language = decision.language
        context.ai_turns += 1
        context.ai_replies.append(decision.reply)
        context.cited.extend(decision.citations)
    last = decisions[-1]
    return CaseRun(
        outcome="handoff" if last.outcome == "handoff" else "answer",
        cited=[citation["external_id"] for citation in last.citations],
        language=last.language,
        reason=last.reason or "",
        priority=last.priority or "",
        reply=last.reply,
        latencies_ms=latencies,
        decisions=decisions,
    )


@dataclass
class QuestionResult:
    question: TestQuestion
    run: CaseRun
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def latency_ms(self) -> float:
        return round(statistics.mean(self.run.latencies_ms), 1)


def result_grade(question: TestQuestion, run: CaseRun) -> QuestionResult:
    """Why the run does not meet the question's expectation (nothing when it does)."""
    failures = []
    if run.outcome != question.expected_outcome:
        failures.append(f"expected {question.expected_outcome}, got {run.outcome}")
    elif run.outcome == "answer" and question.expected_articles:
        if not run.cited or run.cited[0] not in question.expected_articles:
            cited = run.cited[0] if run.cited else "no source"
            failures.append(f"cited {cited} first, not an expected article")
    elif run.outcome == "handoff":
        if question.expected_reason and run.reason != question.expected_reason:
            failures.append(f"handed off for {run.reason}, not {question.expected_reason}")
        if question.expected_priority and run.priority != question.expected_priority:
            failures.append(f"priority {run.priority}, not {question.expected_priority}")
    if question.expected_language and run.language != question.expected_language:
        failures.append(f"replied in {run.language}, not {question.expected_language}")
    return QuestionResult(question=question, run=run, failures=failures)


def flow_draft_version(flow: SupportFlow) -> FlowVersion:
    """The draft as an unsaved version (number 0), which the pipeline runs like a published one.
    ValidationError when the draft could not be published (a rule's queue is gone)."""
    from routing.services import draft_snapshot

    return FlowVersion(flow=flow, number=0, snapshot=draft_snapshot(flow))


def questions_run(
    *, version: FlowVersion, questions: Sequence[TestQuestion]
) -> list[QuestionResult]:
    """Run each question as a fresh conversation under `version` and grade it."""
    workspace_id = version.flow.workspace_id
    return [
        result_grade(
            question,
            case_run(
                version=version,
                workspace_id=workspace_id,
                turns=question.turns,
                customer=question.customer,
            ),
        )
        for question in questions
    ]


@dataclass(frozen=True)
class ComparedResult:
    question: TestQuestion
    draft: QuestionResult
    published: QuestionResult | None

    @property
    def changed(self) -> bool:
        if self.published is None:
            return True
        before, after = self.published.run, self.draft.run
        return (before.outcome, before.cited[:1], before.language, before.reason) != (
            after.outcome,
            after.cited[:1],
            after.language,
            after.reason,
        )


def question_set_compare(
    *, flow: SupportFlow, questions: Sequence[TestQuestion]
) -> list[ComparedResult]:
    """The set against the draft and against the published version, side by side."""
    draft = questions_run(version=flow_draft_version(flow), questions=questions)
    published_version = flow.published_version
    published: list[QuestionResult | None] = [None] * len(questions)
    if published_version is not None:
        published = [*questions_run(version=published_version, questions=questions)]
    return [
        ComparedResult(question=question, draft=after, published=before)
        for question, after, before in zip(questions, draft, published, strict=True)
    ]


def questions_of_workspace(*, workspace: Workspace) -> QuerySet[TestQuestion]:
    return TestQuestion.objects.filter(workspace=workspace)
