"""Routing rules: conditions over the facts of a message, and what to do when they match.

A rule is stored as JSON (so a published version can freeze it) and validated here, where the
admin's mistakes get a message that names the condition. `rule_evaluate` explains each
condition's result, so the simulator and the trace can show why a rule fired or did not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

PRIORITIES = ("normal", "high", "urgent")
SIGNALS = ("repetition", "third_time", "all_caps", "profanity", "business_impact", "human_request")

# fact -> (kind of value, operators it accepts)
FACTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sentiment_score": ("number", ("lt", "lte", "gt", "gte")),
    "retrieval_confidence": ("number", ("lt", "lte", "gt", "gte")),
    "turns": ("integer", ("lt", "lte", "gt", "gte", "eq")),
    "repeated_questions": ("integer", ("lt", "lte", "gt", "gte", "eq")),
    "signal": ("signal", ("present", "absent")),
    "wants_human": ("boolean", ("is",)),
    "business_hours": ("boolean", ("is",)),
    "language": ("text", ("eq", "neq", "in", "not_in")),
    "customer_plan": ("text", ("eq", "neq", "in", "not_in")),
    "customer_attribute": ("text", ("eq", "neq", "in", "not_in", "exists")),
    "message": ("phrases", ("contains_any", "contains_all", "contains_none")),
}
ACTIONS = ("handoff", "reply", "tag", "answer")


@dataclass(frozen=True)
class ConditionResult:
    condition: dict[str, Any]
    matched: bool
    actual: Any  # the fact's value, shown in the trace


@dataclass(frozen=True)
class RuleResult:
    rule: dict[str, Any]
    matched: bool
    conditions: list[ConditionResult]


def rule_validate(rule: Mapping[str, Any], *, queue_names: set[str]) -> dict[str, Any]:
    """A clean copy of `rule`, or ValidationError naming what is wrong."""
    if not isinstance(rule, Mapping):
        raise ValidationError("A rule must be an object.")
    name = str(rule.get("name") or "").strip()
    if not name:
        raise ValidationError({"name": "Give the rule a name."})
    match = rule.get("match", "all")
    if match not in ("all", "any"):
        raise ValidationError({"match": "Match 'all' or 'any' of the conditions."})
    conditions = rule.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        raise ValidationError({"conditions": "A rule needs at least one condition."})
    clean = [_condition_validate(c, position) for position, c in enumerate(conditions, start=1)]
    return {
        "name": name[:120],
        "enabled": bool(rule.get("enabled", True)),
        "match": match,
        "conditions": clean,
        "action": _action_validate(rule.get("action"), queue_names),
    }


def _condition_validate(condition: Any, position: int) -> dict[str, Any]:
    where = f"Condition {position}"
    if not isinstance(condition, Mapping):
        raise ValidationError({"conditions": f"{where} must be an object."})
    fact = condition.get("fact")
    if fact not in FACTS:
        raise ValidationError({"conditions": f"{where}: unknown fact {fact!r}."})
    kind, operators = FACTS[fact]
    op = condition.get("op")
    if op not in operators:
        raise ValidationError(
            {"conditions": f"{where}: {fact} takes {', '.join(operators)}, not {op!r}."}
        )
    clean: dict[str, Any] = {"fact": fact, "op": op}
    if fact == "customer_attribute":
        key = str(condition.get("key") or "").strip()
        if not key:
            raise ValidationError({"conditions": f"{where}: name the customer attribute."})
        clean["key"] = key[:60]
        if op == "exists":
            return clean
    clean["value"] = _value_validate(kind, op, condition.get("value"), where)
    return clean


def _value_validate(kind: str, op: str, value: Any, where: str) -> Any:
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError({"conditions": f"{where}: the value must be a number."})
        if kind == "integer" and int(value) != value:
            raise ValidationError({"conditions": f"{where}: the value must be a whole number."})
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValidationError({"conditions": f"{where}: the value is true or false."})
        return value
    if kind == "signal":
        if value not in SIGNALS:
            raise ValidationError(
                {"conditions": f"{where}: the signal is one of {', '.join(SIGNALS)}."}
            )
        return value
    if kind == "phrases" or op in ("in", "not_in"):
        values = value if isinstance(value, list) else [value]
        phrases = [str(v).strip() for v in values if isinstance(v, str) and str(v).strip()]
        if not phrases or len(phrases) != len(values):
            raise ValidationError({"conditions": f"{where}: give one or more non-empty texts."})
        return [phrase[:200] for phrase in phrases]
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({"conditions": f"{where}: give a value."})
    return value.strip()[:200]


def _action_validate(action: Any, queue_names: set[str]) -> dict[str, Any]:
    if not isinstance(action, Mapping) or action.get("type") not in ACTIONS:
        raise ValidationError({"action": f"The action is one of {', '.join(ACTIONS)}."})
    kind = action["type"]
    if kind == "handoff":
        queue = action.get("queue")
        if queue not in queue_names:
            raise ValidationError({"action": f"Hand off to one of the queues, not {queue!r}."})
        priority = action.get("priority", "normal")
        if priority not in PRIORITIES:
            raise ValidationError({"action": f"The priority is one of {', '.join(PRIORITIES)}."})
        return {"type": kind, "queue": queue, "priority": priority}
    if kind in ("reply", "tag"):
        text = str(action.get("text") or "").strip()
        if not text:
            raise ValidationError({"action": "Give the text of the reply or tag."})
        return {"type": kind, "text": text[:2000]}
    return {"type": kind}


def rule_evaluate(rule: Mapping[str, Any], facts: Mapping[str, Any]) -> RuleResult:
    """Whether an (already validated) rule matches the facts, condition by condition."""
    results = [_condition_evaluate(condition, facts) for condition in rule["conditions"]]
    outcomes = [result.matched for result in results]
    matched = bool(rule.get("enabled", True)) and (
        all(outcomes) if rule.get("match", "all") == "all" else any(outcomes)
    )
    return RuleResult(rule=dict(rule), matched=matched, conditions=results)


def _condition_evaluate(condition: Mapping[str, Any], facts: Mapping[str, Any]) -> ConditionResult:
    fact, op, value = condition["fact"], condition["op"], condition.get("value")
    if fact == "signal":
        present = value in set(facts.get("signals") or ())
        return ConditionResult(dict(condition), present == (op == "present"), present)
    if fact == "customer_attribute":
        attributes = facts.get("customer_attributes") or {}
        actual = attributes.get(condition["key"])
        if op == "exists":
            return ConditionResult(dict(condition), actual not in (None, ""), actual)
    else:
        actual = facts.get(fact)
    if fact == "message":
        text = str(actual or "").casefold()
        phrases: list[str] = list(value or [])
        found = [phrase for phrase in phrases if phrase.casefold() in text]
        matched = {
            "contains_any": bool(found),
            "contains_all": len(found) == len(phrases),
            "contains_none": not found,
        }[op]
        return ConditionResult(dict(condition), matched, found)
    return ConditionResult(dict(condition), _compare(op, actual, value), actual)


def _compare(op: str, actual: Any, value: Any) -> bool:
    if actual is None:
        # An unknown fact (no retrieval yet, no plan given) never satisfies a condition,
        # except a "not" one: a customer without a plan is not on the enterprise plan.
        return op in ("neq", "not_in")
    if op == "is":
        return bool(actual) is value
    if op in ("eq", "neq", "in", "not_in"):
        normal = str(actual).casefold()
        values = [str(v).casefold() for v in (value if isinstance(value, list) else [value])]
        inside = normal in values
        return inside if op in ("eq", "in") else not inside
    number = float(actual)
    return {
        "lt": number < value,
        "lte": number <= value,
        "gt": number > value,
        "gte": number >= value,
        "eq": number == value,
    }[op]
