"""Routing rules: each condition, all/any, first match wins, and clear validation errors."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from routing.components.rule_router import RuleRouter
from routing.rules import rule_evaluate, rule_validate

QUEUES = {"Tier 1", "Tier 2", "Billing"}


def rule(*conditions, match="all", action=None, name="R", enabled=True):
    return rule_validate(
        {
            "name": name,
            "match": match,
            "enabled": enabled,
            "conditions": list(conditions),
            "action": action or {"type": "handoff", "queue": "Tier 2", "priority": "high"},
        },
        queue_names=QUEUES,
    )


FACTS = {
    "sentiment_score": -0.6,
    "retrieval_confidence": 0.32,
    "turns": 3,
    "repeated_questions": 1,
    "signals": ["business_impact", "all_caps"],
    "wants_human": False,
    "business_hours": True,
    "language": "pt",
    "customer_plan": "enterprise",
    "customer_attributes": {"region": "EU", "vip": "yes"},
    "message": "Our PRODUCTION is down and we are losing money",
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"fact": "sentiment_score", "op": "lte", "value": -0.5}, True),
        ({"fact": "sentiment_score", "op": "gt", "value": -0.5}, False),
        ({"fact": "retrieval_confidence", "op": "lt", "value": 0.4}, True),
        ({"fact": "turns", "op": "gte", "value": 4}, False),
        ({"fact": "repeated_questions", "op": "gte", "value": 1}, True),
        ({"fact": "signal", "op": "present", "value": "business_impact"}, True),
        ({"fact": "signal", "op": "absent", "value": "profanity"}, True),
        ({"fact": "wants_human", "op": "is", "value": True}, False),
        ({"fact": "business_hours", "op": "is", "value": True}, True),
        ({"fact": "language", "op": "in", "value": ["pt", "es"]}, True),
        ({"fact": "language", "op": "eq", "value": "EN"}, False),
        ({"fact": "customer_plan", "op": "eq", "value": "Enterprise"}, True),
        ({"fact": "customer_attribute", "key": "region", "op": "eq", "value": "eu"}, True),
        ({"fact": "customer_attribute", "key": "vip", "op": "exists"}, True),
        ({"fact": "customer_attribute", "key": "tier", "op": "exists"}, False),
        ({"fact": "message", "op": "contains_any", "value": ["losing money", "refund"]}, True),
        ({"fact": "message", "op": "contains_all", "value": ["production", "refund"]}, False),
        ({"fact": "message", "op": "contains_none", "value": ["refund"]}, True),
    ],
)
def test_each_condition(condition, expected):
    result = rule_evaluate(rule(condition), FACTS)

    assert result.matched is expected
    assert result.conditions[0].matched is expected


def test_unknown_facts_never_satisfy_a_condition_except_a_negative_one():
    facts = {"message": "hi"}

    assert not rule_evaluate(
        rule({"fact": "customer_plan", "op": "eq", "value": "pro"}), facts
    ).matched
    assert rule_evaluate(
        rule({"fact": "customer_plan", "op": "neq", "value": "pro"}), facts
    ).matched
    low = rule({"fact": "retrieval_confidence", "op": "lt", "value": 0.5})
    assert not rule_evaluate(low, facts).matched


def test_all_and_any():
    angry = {"fact": "sentiment_score", "op": "lte", "value": -0.5}
    asks_human = {"fact": "wants_human", "op": "is", "value": True}

    assert not rule_evaluate(rule(angry, asks_human, match="all"), FACTS).matched
    assert rule_evaluate(rule(angry, asks_human, match="any"), FACTS).matched


def test_first_matching_enabled_rule_wins_and_every_rule_is_explained():
    router = RuleRouter(
        rules=[
            rule({"fact": "turns", "op": "gte", "value": 1}, name="Switched off", enabled=False),
            rule(
                {"fact": "signal", "op": "present", "value": "business_impact"},
                name="Outage",
                action={"type": "handoff", "queue": "Tier 2", "priority": "urgent"},
            ),
            rule({"fact": "language", "op": "eq", "value": "pt"}, name="Portuguese"),
        ]
    )

    output = router.run(facts=FACTS)

    assert output["rule"] == "Outage"
    assert output["action"] == {"type": "handoff", "queue": "Tier 2", "priority": "urgent"}
    assert [(e["rule"], e["matched"]) for e in output["evaluations"]] == [
        ("Switched off", False),
        ("Outage", True),
        ("Portuguese", True),
    ]
    assert output["evaluations"][1]["conditions"][0]["actual"] is True


def test_no_match_lets_the_ai_answer():
    router = RuleRouter(rules=[rule({"fact": "wants_human", "op": "is", "value": True})])

    assert router.run(facts=FACTS)["action"] == {"type": "answer"}
    assert router.run(facts=FACTS)["rule"] == ""


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"conditions": []}, "at least one condition"),
        ({"conditions": [{"fact": "mood", "op": "is", "value": 1}]}, "unknown fact 'mood'"),
        (
            {"conditions": [{"fact": "sentiment_score", "op": "contains_any", "value": 1}]},
            "sentiment_score takes lt, lte, gt, gte",
        ),
        (
            {"conditions": [{"fact": "sentiment_score", "op": "lte", "value": "low"}]},
            "Condition 1: the value must be a number",
        ),
        ({"conditions": [{"fact": "turns", "op": "gte", "value": 2.5}]}, "whole number"),
        ({"conditions": [{"fact": "signal", "op": "present", "value": "sad"}]}, "the signal is"),
        ({"conditions": [{"fact": "message", "op": "contains_any", "value": [""]}]}, "non-empty"),
        (
            {"conditions": [{"fact": "customer_attribute", "op": "eq", "value": "x"}]},
            "name the customer attribute",
        ),
        ({"action": {"type": "handoff", "queue": "Nowhere"}}, "one of the queues"),
        ({"action": {"type": "handoff", "queue": "Billing", "priority": "asap"}}, "priority"),
        ({"action": {"type": "reply", "text": " "}}, "Give the text"),
        ({"action": {"type": "launch"}}, "The action is one of"),
        ({"match": "most"}, "Match 'all' or 'any'"),
        ({"name": ""}, "Give the rule a name"),
    ],
)
def test_bad_rules_are_refused_with_a_message_naming_the_problem(bad, message):
    good = {
        "name": "R",
        "conditions": [{"fact": "turns", "op": "gte", "value": 2}],
        "action": {"type": "answer"},
    }

    with pytest.raises(ValidationError) as error:
        rule_validate({**good, **bad}, queue_names=QUEUES)

    assert message in str(error.value)
