"""Forms of the console's Actions pages. They check the shape of the input (JSON that parses,
dates that are dates); the rules (key format, the parameter schema, a destructive action never
autonomous, who may approve) live in `routing.actions`, whose field-keyed messages are attached
to the fields here so they show next to what the person typed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from conversations.models import ActionRequestStatus, ActorKind
from routing.action_parameters import empty_parameter_schema
from routing.actions import (
    DESCRIPTION_MAX_LENGTH,
    KEY_PATTERN,
    NAME_MAX_LENGTH,
    PHRASING_MAX_LENGTH,
    PHRASINGS_MAX,
    WEBHOOK_URL_MAX_LENGTH,
)
from routing.models import APPROVER_SPECS, Action, ActionPolicy, ActionRisk

DAMAGED_FORM = "The form is damaged: reload the page."
# Generous for any real schema (20 parameters with descriptions), small enough to parse at once.
PARAMETERS_MAX_LENGTH = 20_000
PHRASINGS_MAX_LENGTH = PHRASINGS_MAX * (PHRASING_MAX_LENGTH + 2)

APPROVER_LABELS = {
    "admin": "Admins",
    "agent:2": "Agents, tier 2",
    "agent:1": "Agents, tier 1",
    "viewer": "Viewers",
}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class ActionForm(forms.Form):
    """One action, as an admin adds or edits it."""

    name = forms.CharField(
        label="Name",
        max_length=NAME_MAX_LENGTH,
        help_text="How agents and this console call it, e.g. “Issue refund”.",
        error_messages={"required": "Give the action a name."},
    )
    key = forms.CharField(
        label="Key",
        max_length=50,
        help_text="How the AI and API clients call it: lower-case letters, digits, _ and -, "
        "e.g. issue_refund.",
        error_messages={"required": "Give the action a key, e.g. issue_refund."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    description = forms.CharField(
        label="Description",
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What it does. The AI decides from this when the action fits.",
        error_messages={"required": "Describe what the action does."},
    )
    risk = forms.ChoiceField(
        label="Risk",
        choices=ActionRisk.choices,
        help_text="Read changes nothing; write changes the account; destructive cannot be undone.",
    )
    policy = forms.ChoiceField(
        label="What the AI may do",
        choices=ActionPolicy.choices,
        help_text="A destructive action can never run by itself: a person always decides.",
    )
    example_phrasings = forms.CharField(
        label="Example phrasings",
        required=False,
        max_length=PHRASINGS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"Things a customer might say that call for it, one per line (up to "
        f"{PHRASINGS_MAX}).",
    )
    parameters = forms.CharField(
        label="Parameters (JSON schema)",
        required=False,
        max_length=PARAMETERS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "code"}),
        help_text='An object with "properties" (each of type string, integer, number or '
        'boolean, with optional description, maxLength, minimum, maximum, enum) and "required". '
        "Leave empty for none.",
    )
    webhook_url = forms.CharField(
        label="Webhook URL",
        required=False,
        max_length=WEBHOOK_URL_MAX_LENGTH,
        widget=forms.URLInput(attrs={"spellcheck": "false"}),
        help_text="The http(s) endpoint of your backend that runs it. Calls are signed with the "
        "workspace's webhook secret.",
    )
    enabled = forms.BooleanField(
        label="Enabled",
        required=False,
        help_text="Only with your webhook URL set. A disabled action is never offered or run.",
    )
    # When the editor loaded the action: a save over someone else's newer change is refused.
    loaded_at = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_key(self) -> str:
        key: str = self.cleaned_data["key"].strip()
        if not KEY_PATTERN.match(key):
            raise ValidationError(
                "Lower-case letters, digits, hyphens and underscores (at most 50), starting with "
                "a letter, e.g. issue_refund."
            )
        return key

    def clean_example_phrasings(self) -> list[str]:
        lines = self.cleaned_data["example_phrasings"].splitlines()
        return [line.strip() for line in lines if line.strip()]

    def clean_parameters(self) -> Any:
        text = self.cleaned_data["parameters"].strip()
        if not text:
            return empty_parameter_schema()
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as error:
            raise ValidationError(
                f"This is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
            ) from None
        except (ValueError, RecursionError) as error:
            raise ValidationError(f"This is not valid JSON: {error}.") from None

    def clean_loaded_at(self) -> datetime | None:
        value = self.cleaned_data["loaded_at"]
        if not value:
            return None
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(DAMAGED_FORM) from None

    def action_values(self) -> dict[str, Any]:
        """The cleaned values, as `routing.actions` takes them."""
        return {
            field: self.cleaned_data[field]
            for field in (
                "key",
                "name",
                "description",
                "example_phrasings",
                "parameters",
                "risk",
                "policy",
                "webhook_url",
                "enabled",
            )
        }

    @classmethod
    def for_action(cls, action: Action) -> ActionForm:
        return cls(
            initial={
                "key": action.key,
                "name": action.name,
                "description": action.description,
                "example_phrasings": "\n".join(action.example_phrasings),
                "parameters": json.dumps(action.parameters or empty_parameter_schema(), indent=2),
                "risk": action.risk,
                "policy": action.policy,
                "webhook_url": action.webhook_url,
                "enabled": action.enabled,
                "loaded_at": action.updated_at.isoformat(),
            }
        )


class ActionEnabledForm(forms.Form):
    """Switch an action on or off from the list: the state wanted, not a toggle, so a repeated
    request (a double click, a retry) does what the person meant."""

    enabled = forms.TypedChoiceField(
        choices=(("true", "on"), ("false", "off")), coerce=lambda value: value == "true"
    )


class ApproversForm(forms.Form):
    """Who may approve each risk level: one checkbox per role or agent tier, per level."""

    loaded = forms.CharField(widget=forms.HiddenInput, error_messages={"required": DAMAGED_FORM})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for risk, label in ActionRisk.choices:
            self.fields[f"approvers_{risk}"] = forms.MultipleChoiceField(
                label=f"Who may approve {label.lower()} actions",
                required=False,
                choices=[(spec, APPROVER_LABELS[spec]) for spec in APPROVER_SPECS],
                widget=forms.CheckboxSelectMultiple,
                error_messages={
                    "invalid_choice": "“%(value)s” is not a role: choose among the columns."
                },
            )

    def clean_loaded(self) -> dict[str, list[str]]:
        """The approvers the editor loaded, per risk level (the hidden field's JSON)."""
        try:
            loaded = json.loads(self.cleaned_data["loaded"])
        except ValueError:
            loaded = None
        valid = isinstance(loaded, dict) and all(
            risk in ActionRisk.values
            and isinstance(specs, list)
            and all(isinstance(spec, str) for spec in specs)
            for risk, specs in loaded.items()
        )
        if not valid:
            raise ValidationError(DAMAGED_FORM)
        return loaded

    def approvers_by_risk(self) -> dict[str, list[str]]:
        return {risk: self.cleaned_data[f"approvers_{risk}"] for risk in ActionRisk.values}

    def rows(self) -> list[dict[str, Any]]:
        """One row per risk level, with its checkboxes, for the grid."""
        return [
            {"risk": risk, "label": label, "field": self[f"approvers_{risk}"]}
            for risk, label in ActionRisk.choices
        ]


REQUESTER_CHOICES = (
    ("", "Anyone"),
    (ActorKind.AI.value, "The AI"),
    (ActorKind.AGENT.value, "An agent or admin"),
    (ActorKind.API.value, "An API key"),
)
# A request never rests in "requested": that status is only the log's first step.
LOG_STATUS_CHOICES = tuple(
    (value, label)
    for value, label in ActionRequestStatus.choices
    if value != ActionRequestStatus.REQUESTED
)


class ActionRequestFilterForm(forms.Form):
    """The filters of the request log. Each is optional; an invalid one is reported on its field
    and ignored, the valid ones still apply."""

    action = forms.TypedChoiceField(
        label="Action", required=False, coerce=int, empty_value=None, choices=()
    )
    status = forms.ChoiceField(
        label="Status", required=False, choices=(("", "Any status"), *LOG_STATUS_CHOICES)
    )
    risk = forms.ChoiceField(
        label="Risk", required=False, choices=(("", "Any risk"), *ActionRisk.choices)
    )
    requester = forms.ChoiceField(label="Asked by", required=False, choices=REQUESTER_CHOICES)
    since = forms.DateField(
        label="From",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "A date such as 2025-01-31."},
    )
    until = forms.DateField(
        label="To",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "A date such as 2025-01-31."},
    )

    def __init__(self, *args: Any, actions: list[Action], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [  # type: ignore[attr-defined]
            ("", "All actions"),
            *((str(action.pk), action.name) for action in actions),
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def valid_filters(self) -> dict[str, Any]:
        """The filters that are valid (call after is_valid())."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in self.errors and value not in (None, "")
        }
