from __future__ import annotations

from dataclasses import asdict
from typing import Any

from haystack import component

from routing.rules import rule_evaluate


@component
class RuleRouter:
    """Applies the flow's ordered routing rules to the facts of a message: the first enabled
    rule that matches decides; with none, the AI answers if it is confident enough. A matching
    "tag" rule only labels the conversation (say, "billing" or "vip") and lets the rules after it
    decide, so tags and routing can be set independently.

    The output explains every rule (matched or not, each condition with the fact's value), so
    the simulator and the trace can show why.
    """

    def __init__(self, rules: list[dict[str, Any]]) -> None:
        # Rules come validated from a published flow version (routing.rules.rule_validate).
        self.rules = rules

    @component.output_types(action=dict, rule=str, tags=list, evaluations=list)
    def run(self, facts: dict[str, Any]) -> dict[str, Any]:
        evaluations = []
        decision: dict[str, Any] = {"type": "answer"}
        fired = ""
        tags: list[str] = []
        for rule in self.rules:
            result = rule_evaluate(rule, facts)
            evaluations.append(
                {
                    "rule": rule["name"],
                    "enabled": rule.get("enabled", True),
                    "matched": result.matched,
                    "conditions": [asdict(condition) for condition in result.conditions],
                }
            )
            if not result.matched or fired:
                continue
            if rule["action"]["type"] == "tag":
                tags.append(rule["action"]["text"])
            else:
                decision, fired = dict(rule["action"]), rule["name"]
        return {"action": decision, "rule": fired, "tags": tags, "evaluations": evaluations}
