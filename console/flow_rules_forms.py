"""Forms of a flow's Rules page: one routing rule built from dropdowns, and the small forms of
the rules list (move, switch on or off, reorder, delete).

A rule's conditions are numbered rows of fields (`condition-<n>-fact`, `-op`, `-key`, `-value`).
Which comparisons and which value input a row offers follows its fact (routing.rules.FACTS), so
the form is rebuilt whenever a fact, a comparison or the action changes (`rule_form_refresh`):
without JavaScript by an "Update" button, with htmx by swapping the form alone.

The form turns what the admin typed into the JSON of a rule (numbers, yes/no, lists) and puts
each mistake next to the field that caused it; `routing.rules.rule_validate` checks the result
again, as the service will.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from console.flow_display import OPERATORS
from routing.rules import ACTIONS, FACTS, PRIORITIES, SIGNALS, rule_validate

MAX_CONDITIONS = 20
NAME_MAX_LENGTH = 120  # rule_validate keeps this much of a name
ATTRIBUTE_MAX_LENGTH = 60
VALUE_MAX_LENGTH = 200
ACTION_TEXT_MAX_LENGTH = 2000
OUT_OF_DATE = "This page is out of date: reload it and try again."

# The facts in the order an admin looks for them, with what the value means.
FACT_CHOICES = (
    ("language", "Language"),
    ("customer_plan", "Customer plan"),
    ("customer_attribute", "Customer attribute"),
    ("sentiment_score", "Sentiment score"),
    ("signal", "Frustration signal"),
    ("wants_human", "Asks for a human"),
    ("message", "Message text"),
    ("retrieval_confidence", "Retrieval confidence"),
    ("turns", "Turns in the conversation"),
    ("repeated_questions", "Repeated questions"),
    ("business_hours", "Within business hours"),
)
FACT_NAMES = dict(FACT_CHOICES)
VALUE_HELP = {
    "language": "A language code, such as pt, en or es.",
    "customer_plan": "The plan as your customer data names it, such as enterprise.",
    "sentiment_score": "From \u22121 (very negative) to 1 (very positive), for example \u22120.2.",
    "retrieval_confidence": "From 0 (nothing relevant found) to 1 (a close match).",
    "turns": "The customer's messages so far, this one included.",
    "repeated_questions": "How often the customer repeated an earlier question.",
}
# Numbers outside these ranges can never be met (or always are): say so rather than save them.
NUMBER_RANGES = {
    "sentiment_score": (-1.0, 1.0, "The sentiment score runs from \u22121 to 1."),
    "retrieval_confidence": (0.0, 1.0, "The retrieval confidence runs from 0 to 1."),
}
SIGNAL_CHOICES = (
    ("repetition", "Repeats an earlier question"),
    ("third_time", "Says it is not the first time they ask"),
    ("all_caps", "Writes in capitals"),
    ("profanity", "Swears"),
    ("business_impact", "Says their business is affected"),
    ("human_request", "Asks for a human"),
)
ACTION_CHOICES = (
    ("handoff", "Hand off to a queue"),
    ("reply", "Reply with a fixed text"),
    ("tag", "Tag the conversation"),
    ("answer", "Let the AI answer"),
)
MATCH_CHOICES = (("all", "All of the conditions are met"), ("any", "Any of the conditions is met"))
PRIORITY_CHOICES = tuple((priority, priority.capitalize()) for priority in PRIORITIES)
YES_NO_CHOICES = (("", "Choose…"), ("yes", "Yes"), ("no", "No"))
RULE_FIELDS = (
    "revision",
    "original_name",
    "name",
    "enabled",
    "match",
    "action_type",
    "action_queue",
    "action_priority",
    "action_text",
)
# The selects whose value changes which other fields the form shows.
REFRESHING_FIELDS = ("fact", "op")

assert {fact for fact, _ in FACT_CHOICES} == set(FACTS), "every fact the pipeline knows"
assert {signal for signal, _ in SIGNAL_CHOICES} == set(SIGNALS), "every signal"
assert {action for action, _ in ACTION_CHOICES} == set(ACTIONS), "every action"

_ROW_KEY = re.compile(r"^condition-(\d{1,4})-(?:fact|op|key|value)$")
_CONDITION_MESSAGE = re.compile(r"^Condition (\d+)\b")


def condition_rows(values: Mapping[str, Any]) -> list[tuple[int, dict[str, str]]]:
    """The condition rows of a flat mapping (POST data or initial values) as (number, raw
    values), in the order of their numbers."""
    numbers = sorted({int(match.group(1)) for key in values if (match := _ROW_KEY.match(key))})
    return [
        (number, {part: _text(values.get(f"condition-{number}-{part}")) for part in _PARTS})
        for number in numbers
    ]


_PARTS = ("fact", "op", "key", "value")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _value_text(value: Any) -> str:
    """A stored condition value as the admin types it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return _text(value)


def _flat_rows(rows: Iterable[Mapping[str, str]]) -> dict[str, str]:
    return {
        f"condition-{number}-{part}": row.get(part, "")
        for number, row in enumerate(rows, start=1)
        for part in _PARTS
    }


def new_rule_initial(*, revision: int) -> dict[str, Any]:
    """A new rule: switched on, all conditions, one empty condition, a normal handoff."""
    return {
        "revision": revision,
        "enabled": True,
        "match": "all",
        "action_type": "handoff",
        "action_priority": "normal",
        **_flat_rows([{}]),
    }


def rule_initial(rule: Mapping[str, Any], *, revision: int) -> dict[str, Any]:
    """A stored rule as the form shows it."""
    action: Mapping[str, Any] = rule.get("action") or {}
    conditions = [
        {
            "fact": _text(condition.get("fact")),
            "op": _text(condition.get("op")),
            "key": _text(condition.get("key")),
            "value": _value_text(condition.get("value")),
        }
        for condition in rule.get("conditions", [])
    ]
    return {
        "revision": revision,
        "original_name": rule.get("name", ""),
        "name": rule.get("name", ""),
        "enabled": bool(rule.get("enabled", True)),
        "match": rule.get("match", "all"),
        "action_type": action.get("type", "handoff"),
        "action_queue": action.get("queue", ""),
        "action_priority": action.get("priority", "normal"),
        "action_text": action.get("text", ""),
        **_flat_rows(conditions),
    }


@dataclass(frozen=True)
class RuleFormRefresh:
    initial: dict[str, Any]  # the rebuilt form's values, its conditions renumbered from 1
    focus: str  # the id of the control that gets the focus, "" to leave it where it is
    announcement: str  # what changed, for screen readers


def rule_form_refresh(data: Mapping[str, Any], change: str) -> RuleFormRefresh:
    """A rule form after a change of its shape: "add" a condition, "remove-<n>" the n-th, or
    "refresh" after a fact, comparison or action was chosen."""
    values: dict[str, Any] = {name: _text(data.get(name)) for name in RULE_FIELDS}
    values["enabled"] = bool(data.get("enabled"))
    rows = [row for _, row in condition_rows(data)][:MAX_CONDITIONS]
    focus = announcement = ""
    if change == "add" and len(rows) < MAX_CONDITIONS:
        rows.append({})
        focus = f"id_condition-{len(rows)}-fact"
        announcement = f"Condition {len(rows)} added: choose its fact."
    elif change.startswith("remove-") and change[7:].isdigit():
        position = int(change[7:])
        if 1 <= position <= len(rows):
            del rows[position - 1]
            focus = "add-condition"
            announcement = f"Condition {position} removed; {len(rows)} left."
    initial = {**values, **_flat_rows(_row_fitted(row) for row in rows)}
    return RuleFormRefresh(initial=initial, focus=focus, announcement=announcement)


def _row_fitted(row: Mapping[str, str]) -> dict[str, str]:
    """The row with a comparison its fact takes (the first one when the fact changed)."""
    fitted = {part: row.get(part, "") for part in _PARTS}
    if fitted["fact"] in FACTS:
        operators = FACTS[fitted["fact"]][1]
        if fitted["op"] not in operators:
            fitted["op"] = operators[0]
    return fitted


@dataclass(frozen=True)
class ConditionRow:
    """One condition's fields, as the template lays them out."""

    position: int
    fact: forms.BoundField
    op: forms.BoundField | None
    key: forms.BoundField | None
    value: forms.BoundField | None


class RuleForm(forms.Form):
    revision = forms.IntegerField(
        min_value=1,
        widget=forms.HiddenInput,
        error_messages={"required": OUT_OF_DATE, "invalid": OUT_OF_DATE, "min_value": OUT_OF_DATE},
    )
    # The name the rule had when the form was opened: finds it again if the draft moves on.
    original_name = forms.CharField(
        required=False, max_length=NAME_MAX_LENGTH, widget=forms.HiddenInput
    )
    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        label="Rule name",
        help_text="Say what it is for, e.g. “Portuguese enterprise customers who are upset”.",
        error_messages={
            "required": "Give the rule a name.",
            "max_length": f"At most {NAME_MAX_LENGTH} characters, please.",
        },
    )
    enabled = forms.BooleanField(
        required=False,
        label="Switched on",
        help_text="A rule that is switched off is kept, but no message is routed by it.",
    )
    match = forms.ChoiceField(
        choices=MATCH_CHOICES,
        label="The rule applies when",
        error_messages={"required": "Choose when the rule applies."},
    )
    # Errors about the conditions as a whole (none, too many) show next to them.
    conditions = forms.CharField(required=False, widget=forms.HiddenInput)
    action_type = forms.ChoiceField(
        choices=ACTION_CHOICES,
        label="What happens",
        error_messages={"required": "Choose what happens.", "invalid_choice": "Choose an action."},
    )
    action_queue = forms.ChoiceField(
        required=False,
        label="Queue",
        error_messages={"invalid_choice": "That queue does not exist (any more): choose one."},
    )
    action_priority = forms.ChoiceField(
        required=False,
        choices=PRIORITY_CHOICES,
        label="Priority",
        error_messages={"invalid_choice": "Choose normal, high or urgent."},
    )
    action_text = forms.CharField(
        required=False,
        max_length=ACTION_TEXT_MAX_LENGTH,
        label="Reply text",
        error_messages={"max_length": f"At most {ACTION_TEXT_MAX_LENGTH} characters, please."},
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        queues: Iterable[str],
        other_names: Iterable[str],
        initial: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(data, initial=initial)
        self.queue_names = list(queues)
        self.other_names = {name.casefold() for name in other_names}
        self.fields["action_queue"].choices = [  # type: ignore[attr-defined]
            ("", "Choose a queue…"),
            *((name, name) for name in self.queue_names),
        ]
        source: Mapping[str, Any] = self.data if self.is_bound else self.initial
        rows = condition_rows(source)
        self.too_many_conditions = len(rows) > MAX_CONDITIONS
        self._row_numbers = [number for number, _ in rows[:MAX_CONDITIONS]]
        for number, raw in rows[:MAX_CONDITIONS]:
            self._add_condition_fields(f"condition-{number}", raw["fact"], raw["op"])
        self.action_kind = _text(source.get("action_type"))
        if self.action_kind == "tag":
            self.fields["action_text"].label = "Tag"
            self.fields["action_text"].help_text = "For example “vip” or “billing”."
        else:
            self.fields["action_text"].widget = forms.Textarea(attrs={"rows": 3})
        self.rule: dict[str, Any] | None = None  # the validated rule, once the form is valid

    # --- building ---------------------------------------------------------------------------

    def _add_condition_fields(self, prefix: str, fact: str, op: str) -> None:
        self.fields[f"{prefix}-fact"] = forms.ChoiceField(
            choices=[("", "Choose a fact…"), *FACT_CHOICES],
            label="Fact",
            error_messages={
                "required": "Choose a fact.",
                "invalid_choice": "Choose a fact from the list.",
            },
        )
        if fact not in FACTS:
            return
        kind, operators = FACTS[fact]
        self.fields[f"{prefix}-op"] = forms.ChoiceField(
            choices=[(operator, OPERATORS.get(operator, operator)) for operator in operators],
            label="Comparison",
            error_messages={
                "required": "Choose a comparison.",
                "invalid_choice": f"{FACT_NAMES[fact]} takes only the comparisons in the list.",
            },
        )
        if fact == "customer_attribute":
            self.fields[f"{prefix}-key"] = forms.CharField(
                required=False,
                max_length=ATTRIBUTE_MAX_LENGTH,
                label="Attribute name",
                help_text="As your customer data names it, such as region.",
                error_messages={"max_length": f"At most {ATTRIBUTE_MAX_LENGTH} characters."},
            )
            if op == "exists":
                return
        self.fields[f"{prefix}-value"] = _value_field(fact, kind)

    def refresh_on_change(self, url: str) -> None:
        """With htmx, choosing a fact (or whether an attribute only has to exist) rebuilds that
        condition's row, and choosing an action its fields: the server renders the form, htmx
        swaps only the part that changed, so what is typed elsewhere stays as it is."""

        def attrs(part: str) -> dict[str, str]:
            return {
                "hx-post": url,
                "hx-trigger": "change",
                "hx-vals": json.dumps({"_change": "refresh"}),
                "hx-target": f"#{part}",
                "hx-select": f"#{part}",
                "hx-swap": "outerHTML",
            }

        self.fields["action_type"].widget.attrs.update(attrs("rule-action"))
        for position, number in enumerate(self._row_numbers, start=1):
            self.fields[f"condition-{number}-fact"].widget.attrs.update(
                attrs(f"condition-{position}")
            )
            op = self.fields.get(f"condition-{number}-op")
            if op is not None and "exists" in dict(op.choices):  # type: ignore[attr-defined]
                op.widget.attrs.update(attrs(f"condition-{position}"))

    def focus(self, field_id: str) -> None:
        """Give the control with this id the `autofocus` attribute (after a rebuild)."""
        for name, field in self.fields.items():
            if self[name].auto_id == field_id:
                field.widget.attrs["autofocus"] = True

    def focus_first_error(self) -> None:
        """After a refused save the page opens on the first field to correct, in page order."""
        rows = [f"condition-{number}-{part}" for number in self._row_numbers for part in _PARTS]
        actions = ("action_type", "action_queue", "action_priority", "action_text")
        for name in ("name", "match", "enabled", *rows, *actions):
            if name in self.fields and name in self.errors:
                self.fields[name].widget.attrs["autofocus"] = True
                return

    def condition_rows(self) -> list[ConditionRow]:
        def bound(name: str) -> forms.BoundField | None:
            return self[name] if name in self.fields else None

        return [
            ConditionRow(
                position=position,
                fact=self[f"condition-{number}-fact"],
                op=bound(f"condition-{number}-op"),
                key=bound(f"condition-{number}-key"),
                value=bound(f"condition-{number}-value"),
            )
            for position, number in enumerate(self._row_numbers, start=1)
        ]

    @property
    def can_add_condition(self) -> bool:
        return len(self._row_numbers) < MAX_CONDITIONS

    # --- validating -------------------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.too_many_conditions:
            self.add_error("conditions", f"A rule has at most {MAX_CONDITIONS} conditions.")
        elif not self._row_numbers:
            self.add_error("conditions", "A rule needs at least one condition: add one.")
        conditions = [self._clean_condition(f"condition-{n}") for n in self._row_numbers]
        action = self._clean_action(cleaned)
        name = cleaned.get("name", "")
        if name and name.casefold() in self.other_names:
            self.add_error(
                "name",
                f"Another rule is already named “{name}”: give this one a name of its own.",
            )
        if self.errors:
            return cleaned
        rule = {
            "name": name,
            "enabled": cleaned.get("enabled", False),
            "match": cleaned["match"],
            "conditions": conditions,
            "action": action,
        }
        try:
            self.rule = rule_validate(rule, queue_names=set(self.queue_names))
        except ValidationError as error:
            self.add_rule_errors(error)
        return cleaned

    def _clean_condition(self, prefix: str) -> dict[str, Any] | None:
        fact = self.cleaned_data.get(f"{prefix}-fact")
        op = self.cleaned_data.get(f"{prefix}-op")
        if not fact or not op:
            return None  # the select said what is missing
        condition: dict[str, Any] = {"fact": fact, "op": op}
        if fact == "customer_attribute":
            key = self.cleaned_data.get(f"{prefix}-key", "")
            if not key:
                self.add_error(f"{prefix}-key", "Name the customer attribute, such as region.")
            condition["key"] = key
            if op == "exists":
                return condition
        value_field = f"{prefix}-value"
        if value_field not in self.cleaned_data:
            return None  # the field's own check failed and said why
        try:
            condition["value"] = _value_parsed(fact, op, self.cleaned_data[value_field])
        except ValidationError as error:
            self.add_error(value_field, error)
            return None
        return condition

    def _clean_action(self, cleaned: Mapping[str, Any]) -> dict[str, Any]:
        kind = cleaned.get("action_type")
        if kind == "handoff":
            queue = cleaned.get("action_queue")
            if "action_queue" in cleaned and not queue:
                self.add_error("action_queue", "Choose the queue to hand off to.")
            priority = cleaned.get("action_priority") or "normal"
            return {"type": kind, "queue": queue, "priority": priority}
        if kind in ("reply", "tag"):
            text = cleaned.get("action_text", "")
            if "action_text" in cleaned and not text:
                self.add_error(
                    "action_text",
                    "Write the reply." if kind == "reply" else "Write the tag, such as vip.",
                )
            return {"type": kind, "text": text}
        return {"type": kind}

    def add_rule_errors(self, error: ValidationError) -> None:
        """Put a rule's validation messages (routing.rules.rule_validate's, or the service's)
        next to the fields they are about; the others on top of the form."""
        if hasattr(error, "error_dict"):
            keyed = [
                (key, message) for key, items in error.message_dict.items() for message in items
            ]
        else:
            keyed = [("", message) for message in error.messages]
        for key, message in keyed:
            self.add_error(self._field_for(key, message), message)

    def _field_for(self, key: str, message: str) -> str | None:
        found = _CONDITION_MESSAGE.match(message)
        if found and 1 <= int(found.group(1)) <= len(self._row_numbers):
            prefix = f"condition-{self._row_numbers[int(found.group(1)) - 1]}"
            for part in ("value", "key", "op", "fact"):
                if f"{prefix}-{part}" in self.fields:
                    return f"{prefix}-{part}"
        if key in ("name", "match", "conditions"):
            return key
        if key == "action":
            for word, field in (("queue", "action_queue"), ("priority", "action_priority")):
                if word in message:
                    return field
            return "action_text" if "text" in message else "action_type"
        return None


def _value_field(fact: str, kind: str) -> forms.Field:
    if kind in ("number", "integer"):
        attrs: dict[str, Any] = {"step": "any" if kind == "number" else "1"}
        if fact in NUMBER_RANGES:
            attrs.update(min=NUMBER_RANGES[fact][0], max=NUMBER_RANGES[fact][1])
        elif kind == "integer":
            attrs.update(min=0)
        return forms.CharField(
            required=False,
            max_length=40,
            label="Number",
            help_text=VALUE_HELP.get(fact, ""),
            widget=forms.NumberInput(attrs=attrs),
            error_messages={"max_length": "Write a number, such as 3 or -0.2."},
        )
    if kind in ("boolean", "signal"):
        choices = YES_NO_CHOICES if kind == "boolean" else (("", "Choose…"), *SIGNAL_CHOICES)
        return forms.ChoiceField(
            required=False,
            choices=choices,
            label="Signal" if kind == "signal" else "Value",
            error_messages={"invalid_choice": "Choose one of the values in the list."},
        )
    # The same input for every comparison of a text fact, so that choosing another comparison
    # never replaces what the admin is typing.
    phrases = kind == "phrases"
    help_text = " ".join(
        part
        for part in (
            VALUE_HELP.get(fact, ""),
            "Separate several with commas."
            if phrases
            else "For “is one of” or “is none of”, separate several with commas.",
        )
        if part
    )
    attrs = {"list": "rule-languages"} if fact == "language" else {}
    return forms.CharField(
        required=False,
        max_length=ACTION_TEXT_MAX_LENGTH,
        label="Words or phrases" if phrases else "Value",
        help_text=help_text,
        widget=forms.TextInput(attrs=attrs),
        error_messages={"max_length": "That is too long: keep the values short."},
    )


def _value_parsed(fact: str, op: str, raw: str) -> Any:
    """The typed value as the rule stores it, or ValidationError saying what to type."""
    kind = FACTS[fact][0]
    if kind in ("number", "integer"):
        return _number_parsed(fact, kind, raw)
    if kind == "boolean":
        if raw not in ("yes", "no"):
            raise ValidationError("Choose yes or no.")
        return raw == "yes"
    if kind == "signal":
        if raw not in SIGNALS:
            raise ValidationError("Choose a signal.")
        return raw
    if kind == "phrases" or op in ("in", "not_in"):
        values = [item.strip() for item in raw.split(",")]
        values = [item for item in values if item]
        if not values:
            raise ValidationError(
                "Give one or more words or phrases, separated by commas."
                if kind == "phrases"
                else "Give one or more values, separated by commas."
            )
        if any(len(item) > VALUE_MAX_LENGTH for item in values):
            raise ValidationError(f"Each value is at most {VALUE_MAX_LENGTH} characters.")
        return values
    if not raw:
        raise ValidationError(
            "Give the language code, such as pt." if fact == "language" else "Give a value."
        )
    if len(raw) > VALUE_MAX_LENGTH:
        raise ValidationError(f"At most {VALUE_MAX_LENGTH} characters, please.")
    return raw


def _number_parsed(fact: str, kind: str, raw: str) -> int | float:
    example = "such as 3" if kind == "integer" else "such as -0.2"
    if not raw:
        raise ValidationError(f"Give a number, {example}.")
    text = raw.replace("\u2212", "-").replace(",", ".")  # a typographic minus, a decimal comma
    try:
        number: int | float = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise ValidationError(f"Write a number, {example}.") from None
    if not math.isfinite(number):
        raise ValidationError(f"Write a number, {example}.")
    if kind == "integer":
        if number != int(number):
            raise ValidationError("Write a whole number, such as 3.")
        if number < 0:
            raise ValidationError("The count cannot be below 0.")
        return int(number)
    if fact in NUMBER_RANGES:
        low, high, message = NUMBER_RANGES[fact]
        if not low <= number <= high:
            raise ValidationError(message)
    return number


# --- the rules list ----------------------------------------------------------------------------


class RevisionForm(forms.Form):
    """Every change to the list carries the draft revision the page showed."""

    revision = forms.IntegerField(
        min_value=1,
        widget=forms.HiddenInput,
        error_messages={"required": OUT_OF_DATE, "invalid": OUT_OF_DATE, "min_value": OUT_OF_DATE},
    )


class MoveForm(RevisionForm):
    direction = forms.ChoiceField(
        choices=(("up", "Move up"), ("down", "Move down")),
        error_messages={"required": "Move up or down?", "invalid_choice": "Move up or down?"},
    )


class SwitchForm(RevisionForm):
    enabled = forms.ChoiceField(
        choices=(("on", "Switch on"), ("off", "Switch off")),
        error_messages={"required": "Switch on or off?", "invalid_choice": "Switch on or off?"},
    )


class ReorderForm(RevisionForm):
    """The rules' current positions (1, 2, ...) in their new order."""

    order = forms.TypedMultipleChoiceField(
        coerce=int,
        error_messages={
            "required": "Send the new order of the rules.",
            "invalid_choice": "The order names a rule that is not in the draft.",
        },
    )

    def __init__(self, data: Mapping[str, Any], *, count: int) -> None:
        super().__init__(data)
        self.count = count
        self.fields["order"].choices = [  # type: ignore[attr-defined]
            (str(position), str(position)) for position in range(1, count + 1)
        ]

    def clean_order(self) -> list[int]:
        order: list[int] = self.cleaned_data["order"]
        if sorted(order) != list(range(1, self.count + 1)):
            raise ValidationError("Send every rule exactly once, in the new order.")
        return order
