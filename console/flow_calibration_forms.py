"""Forms of the flow's Thresholds (calibration) and Simulator pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from console.flow_display import language_name
from console.flow_forms import SimulateForm
from routing.flow_settings import SUPPORTED_LANGUAGES

EXAMPLES_MAX = 20
EXAMPLE_MAX_LENGTH = 500
# Shown until the admin writes their own: one routine question, one out of scope, one angry,
# one asking for a person, so every slider has something to move.
DEFAULT_EXAMPLES = (
    "How do I reset my password?",
    "What's the weather in Paris tomorrow?",
    "This is the third time I ask. Nothing works and we are losing money!",
    "Can I talk to a human, please?",
)
ATTRIBUTES_MAX = 20


class ThresholdsForm(forms.Form):
    """The three thresholds the sliders move. Validated again by FlowSettings on save."""

    confidence_threshold = forms.FloatField(
        min_value=0,
        max_value=1,
        label="Confidence threshold",
        help_text="Below it the AI does not answer: it says the fallback and hands off.",
        widget=forms.NumberInput(attrs={"type": "range", "step": "0.01"}),
    )
    sentiment_escalate_at = forms.FloatField(
        min_value=-1,
        max_value=1,
        label="Hand off at sentiment",
        help_text="At or below this score (-1 furious to 1 delighted) a human takes over.",
        widget=forms.NumberInput(attrs={"type": "range", "step": "0.05"}),
    )
    sentiment_high_priority_at = forms.FloatField(
        min_value=-1,
        max_value=1,
        label="High priority at sentiment",
        help_text="At or below this score the handoff jumps the queue.",
        widget=forms.NumberInput(attrs={"type": "range", "step": "0.05"}),
    )
    examples = forms.CharField(
        required=False,
        label="Example messages",
        help_text=f"One per line (up to {EXAMPLES_MAX}); treated like the saved test questions.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    revision = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def clean_examples(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["examples"].splitlines()]
        examples = [line for line in lines if line]
        if len(examples) > EXAMPLES_MAX:
            raise ValidationError(f"At most {EXAMPLES_MAX} example messages, please.")
        if any(len(line) > EXAMPLE_MAX_LENGTH for line in examples):
            raise ValidationError(f"An example has at most {EXAMPLE_MAX_LENGTH} characters.")
        return examples

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        escalate, high = (
            cleaned.get("sentiment_escalate_at"),
            cleaned.get("sentiment_high_priority_at"),
        )
        if escalate is not None and high is not None and high > escalate:
            self.add_error(
                "sentiment_high_priority_at",
                "High priority must be at or below the hand-off score.",
            )
        return cleaned


class SimulatorForm(SimulateForm):
    """The simulate form plus the customer's language and attributes."""

    customer_language = forms.ChoiceField(
        required=False,
        label="Customer language (optional)",
        help_text="The language of earlier replies; the flow still detects the message's own.",
        choices=(("", "Detect"), *((code, language_name(code)) for code in SUPPORTED_LANGUAGES)),
    )
    customer_attributes = forms.CharField(
        required=False,
        label="Customer attributes (optional)",
        help_text="One per line as name=value, e.g. company_size=250, for rules on attributes.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_customer_attributes(self) -> dict[str, str]:
        attributes: dict[str, str] = {}
        lines = [line.strip() for line in self.cleaned_data["customer_attributes"].splitlines()]
        for number, line in enumerate((line for line in lines if line), start=1):
            name, equals, value = line.partition("=")
            if not equals or not name.strip():
                raise ValidationError(f"Line {number}: write name=value.")
            if len(name.strip()) > 60 or len(value.strip()) > 200:
                raise ValidationError(f"Line {number}: the name or the value is too long.")
            attributes[name.strip()] = value.strip()
        if len(attributes) > ATTRIBUTES_MAX:
            raise ValidationError(f"At most {ATTRIBUTES_MAX} attributes, please.")
        return attributes

    def customer(self) -> dict[str, Any]:
        customer = super().customer()
        if self.cleaned_data.get("customer_attributes"):
            customer["attributes"] = self.cleaned_data["customer_attributes"]
        return customer
