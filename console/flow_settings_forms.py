"""Forms that edit a flow draft's settings: one per stage of the overview's diagram (language,
sentiment, confidence, business hours, answer) and the guardrails page.

Each form checks its own fields and says what is wrong next to them; `FlowSettings.from_json`,
which the service runs on the result, stays the last word. `settings_from` merges the form's
fields into the draft's current settings, so a save never touches what the form does not show.
Every form carries the draft revision it was opened at; the service refuses a save when the
draft changed since.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError

from console.flow_display import DAY_NAMES, language_name
from routing.business_hours import DAYS, BusinessHours
from routing.flow_settings import (
    DEFAULT_FALLBACK_MESSAGES,
    DEFAULT_HANDOFF_MESSAGES,
    SUPPORTED_LANGUAGES,
    FlowSettings,
)
from routing.guardrail import GUARDRAIL_VARIABLES, guardrail_unknown_variables
from routing.services import SIMULATE_MESSAGE_MAX_LENGTH

GUARDRAIL_PROMPT_MAX_LENGTH = 8000  # as FlowSettings.from_json allows
CUSTOMER_TEXT_MAX_LENGTH = 1000  # a fallback or handoff message is one or two sentences
DEFAULT_EXAMPLE_MESSAGE = "How do I reset my password?"
LANGUAGE_CHOICES = [(code, language_name(code)) for code in SUPPORTED_LANGUAGES]
GENERATOR_CHOICES = [
    ("grounded", "Grounded composer: offline, quotes the knowledge, cannot invent"),
    ("openai", "An LLM on an OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, …)"),
]
_ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _number(label: str, low: float, high: float, **kwargs: Any) -> forms.FloatField:
    between = f"Between {low:g} and {high:g}, please."
    return forms.FloatField(
        label=label,
        min_value=low,
        max_value=high,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
        error_messages={
            "required": f"Give the {label.lower()}.",
            "invalid": f"The {label.lower()} is a number, e.g. {(low + high) / 2:g}.",
            "min_value": between,
            "max_value": between,
        },
        **kwargs,
    )


class DraftSettingsForm(forms.Form):
    """Part of a draft's settings. Subclasses list their fields and merge them in."""

    revision = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=0,
        error_messages={
            "required": "This form is out of date: reload the page.",
            "invalid": "This form is out of date: reload the page.",
            "min_value": "This form is out of date: reload the page.",
        },
    )

    @classmethod
    def initial_from(cls, settings: FlowSettings) -> dict[str, Any]:
        raise NotImplementedError

    def settings_from(self, current: dict[str, Any]) -> dict[str, Any]:
        """`current` (the draft's stored settings) with this form's cleaned values."""
        raise NotImplementedError


class LanguageStageForm(DraftSettingsForm):
    languages = forms.MultipleChoiceField(
        label="Languages the AI answers in",
        choices=LANGUAGE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="A language turned on for the first time starts with the standard fallback "
        "and handoff texts; edit them on the Guardrails tab.",
        error_messages={
            "required": "Enable at least one language.",
            "invalid_choice": "Choose among the languages listed.",
        },
    )
    default_language = forms.ChoiceField(
        label="Default language",
        choices=LANGUAGE_CHOICES,
        help_text="For messages too short to tell, and languages that are not enabled.",
        error_messages={"invalid_choice": "Choose one of the languages listed."},
    )

    @classmethod
    def initial_from(cls, settings: FlowSettings) -> dict[str, Any]:
        return {
            "languages": list(settings.languages),
            "default_language": settings.default_language,
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        languages, default = cleaned.get("languages"), cleaned.get("default_language")
        if languages and default and default not in languages:
            self.add_error(
                "default_language",
                f"{language_name(default)} is not enabled: enable it, or choose one that is.",
            )
        return cleaned

    def settings_from(self, current: dict[str, Any]) -> dict[str, Any]:
        chosen = self.cleaned_data["languages"]
        # Languages that stay keep their place; new ones follow in the usual order.
        kept = [code for code in current.get("languages", []) if code in chosen]
        languages = kept + [
            code for code in SUPPORTED_LANGUAGES if code in chosen and code not in kept
        ]
        texts = {}
        for name, standard in (
            ("fallback_messages", DEFAULT_FALLBACK_MESSAGES),
            ("handoff_messages", DEFAULT_HANDOFF_MESSAGES),
        ):
            messages = dict(current.get(name) or {})
            for code in languages:
                if not str(messages.get(code, "")).strip():
                    messages[code] = standard[code]
            texts[name] = messages
        return {
            **current,
            **texts,
            "languages": languages,
            "default_language": self.cleaned_data["default_language"],
        }


class SentimentStageForm(DraftSettingsForm):
    sentiment_escalate_at = _number(
        "Escalate at",
        -1,
        1,
        help_text="A message this negative or worse goes to a person. From -1 (furious) to 1.",
    )
    sentiment_high_priority_at = _number(
        "High priority at",
        -1,
        1,
        help_text="This negative or worse, the handoff jumps the queue. At or below the "
        "escalation threshold.",
    )
    max_ai_turns = forms.IntegerField(
        label="Max AI turns",
        min_value=1,
        max_value=50,
        help_text="AI replies without a resolution before a person takes over (1 to 50).",
        error_messages={
            "required": "Give the number of AI turns.",
            "invalid": "A whole number, e.g. 4.",
            "min_value": "Between 1 and 50, please.",
            "max_value": "Between 1 and 50, please.",
        },
    )

    @classmethod
    def initial_from(cls, settings: FlowSettings) -> dict[str, Any]:
        return {
            "sentiment_escalate_at": settings.sentiment_escalate_at,
            "sentiment_high_priority_at": settings.sentiment_high_priority_at,
            "max_ai_turns": settings.max_ai_turns,
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        escalate = cleaned.get("sentiment_escalate_at")
        high = cleaned.get("sentiment_high_priority_at")
        if escalate is not None and high is not None and high > escalate:
            self.add_error(
                "sentiment_high_priority_at",
                f"High priority must be at or below the escalation threshold ({escalate:g}): "
                "only the angriest of the escalated messages jump the queue.",
            )
        return cleaned

    def settings_from(self, current: dict[str, Any]) -> dict[str, Any]:
        names = ("sentiment_escalate_at", "sentiment_high_priority_at", "max_ai_turns")
        return {**current, **{name: self.cleaned_data[name] for name in names}}


class ConfidenceStageForm(DraftSettingsForm):
    confidence_threshold = _number(
        "Confidence threshold",
        0,
        1,
        help_text="From 0 to 1. Below it the AI does not answer: it says the fallback and hands "
        "off. Higher means fewer wrong answers and more handoffs.",
    )

    @classmethod
    def initial_from(cls, settings: FlowSettings) -> dict[str, Any]:
        return {"confidence_threshold": settings.confidence_threshold}

    def settings_from(self, current: dict[str, Any]) -> dict[str, Any]:
        return {**current, "confidence_threshold": self.cleaned_data["confidence_threshold"]}


class AnswerStageForm(DraftSettingsForm):
    kind = forms.ChoiceField(
        label="Answer generator",
        choices=GENERATOR_CHOICES,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose how the AI writes its answers.",
            "invalid_choice": "Choose one of the two generators listed.",
        },
    )
    base_url = forms.CharField(
        label="Base URL",
        required=False,
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://api.openai.com/v1"}),
        help_text="For an LLM: the endpoint's address, with http:// or https://.",
    )
    model = forms.CharField(
        label="Model",
        required=False,
        max_length=200,
        help_text="For an LLM: the model the endpoint should use, e.g. gpt-4o-mini.",
    )
    api_key_env = forms.CharField(
        label="API key environment variable",
        required=False,
        max_length=100,
        help_text="The NAME of the server's environment variable holding the key (never the "
        "key itself), e.g. OPENAI_API_KEY. Empty for a local endpoint that needs none.",
    )
    timeout_seconds = forms.FloatField(
        label="Timeout (seconds)",
        min_value=1,
        max_value=120,
        help_text="How long the customer waits for the endpoint before the AI hands off.",
        error_messages={
            "required": "Give the timeout in seconds.",
            "invalid": "A number of seconds, e.g. 20.",
            "min_value": "Between 1 and 120 seconds, please.",
            "max_value": "Between 1 and 120 seconds, please.",
        },
    )

    @classmethod
    def initial_from(cls, settings: FlowSettings) -> dict[str, Any]:
        generator = settings.generator
        return {
            "kind": generator.kind,
            "base_url": generator.base_url,
            "model": generator.model,
            "api_key_env": generator.api_key_env,
            "timeout_seconds": generator.timeout_seconds,
        }

    def clean_base_url(self) -> str:
        value: str = self.cleaned_data["base_url"]
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValidationError(
                    "The base URL starts with http:// or https://, e.g. https://api.openai.com/v1."
                )
        return value

    def clean_api_key_env(self) -> str:
        value: str = self.cleaned_data["api_key_env"]
        if value and not _ENV_VAR_NAME.match(value):
            raise ValidationError(
                "Give the name of an environment variable (letters, digits and _), not the key."
            )
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("kind") == "openai":
            if not cleaned.get("base_url") and "base_url" not in self.errors:
                self.add_error("base_url", "An LLM needs the endpoint's base URL.")
            if not cleaned.get("model"):
                self.add_error("model", "Name the model the endpoint should use.")
        return cleaned

    def settings_from(self, current: dict[str, Any]) -> dict[str, Any]:
        generator = dict(current.get("generator") or {})
        for name in ("kind", "base_url", "model", "api_key_env", "timeout_seconds"):
            generator[name] = self.cleaned_data[name]
        return {**current, "generator": generator}


class BusinessHoursStageForm(DraftSettingsForm):
    """The time zone and one opening range per day; a day left empty is closed, and no day at
    all means the team is always there."""

    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        help_text="A name like Europe/Lisbon or America/New_York.",
        error_messages={"required": "Give the team's time zone, e.g. Europe/Lisbon."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day in DAYS:
            self.fields[day] = forms.CharField(
                label=DAY_NAMES[day],
                required=False,
                max_length=20,
                widget=forms.TextInput(attrs={"placeholder": "09:00-18:00"}),
            )

    @classmethod
    def initial_from(cls, settings: FlowSettings) -> dict[str, Any]:
        hours = settings.hours
        return {"timezone": hours.timezone, **{day: hours.days.get(day, "") for day in DAYS}}

    def clean_timezone(self) -> str:
        value: str = self.cleaned_data["timezone"]
        try:
            BusinessHours.from_json({"timezone": value, "days": {}})
        except ValidationError as error:
            raise ValidationError(error.messages) from None
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        for day in DAYS:
            span = (cleaned.get(day) or "").strip()
            if not span:
                continue
            try:
                BusinessHours.from_json({"days": {day: span}})
            except ValidationError as error:
                # The check names the day by its key ("mon"); people read "Monday".
                message = " ".join(error.messages).replace(f" {day} ", f" {DAY_NAMES[day]} ")
                self.add_error(day, message)
        return cleaned

    def settings_from(self, current: dict[str, Any]) -> dict[str, Any]:
        days = {
            day: self.cleaned_data[day].strip() for day in DAYS if self.cleaned_data[day].strip()
        }
        hours = {"timezone": self.cleaned_data["timezone"], "days": days} if days else {}
        return {**current, "business_hours": hours}


# The stages whose settings open in place on the overview, in the diagram's order.
STAGE_FORMS: dict[str, type[DraftSettingsForm]] = {
    "language": LanguageStageForm,
    "sentiment": SentimentStageForm,
    "confidence": ConfidenceStageForm,
    "hours": BusinessHoursStageForm,
    "answer": AnswerStageForm,
}


# --- guardrails ----------------------------------------------------------------------------


def _variables_text() -> str:
    return " and ".join(f"{{{name}}}" for name in GUARDRAIL_VARIABLES)


class GuardrailPromptForm(forms.Form):
    guardrail_prompt = forms.CharField(
        label="Guardrail prompt",
        max_length=GUARDRAIL_PROMPT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "true"}),
        help_text=f"What the LLM must and must not do. At most {GUARDRAIL_PROMPT_MAX_LENGTH} "
        f"characters; it may use {_variables_text()}.",
        error_messages={
            "required": "The guardrail prompt cannot be empty.",
            "max_length": f"At most {GUARDRAIL_PROMPT_MAX_LENGTH} characters, please "
            "(it has %(show_value)d).",
        },
    )

    def clean_guardrail_prompt(self) -> str:
        prompt: str = self.cleaned_data["guardrail_prompt"]
        unknown = guardrail_unknown_variables(prompt)
        if unknown:
            names = ", ".join(f"{{{name}}}" for name in unknown)
            noun = "variable" if len(unknown) == 1 else "variables"
            raise ValidationError(
                f"Unknown {noun} {names}: the prompt may use only {_variables_text()}."
            )
        return prompt


class GuardrailsForm(DraftSettingsForm, GuardrailPromptForm):
    """The guardrail prompt, and the fallback and handoff messages of each enabled language."""

    def __init__(self, *args: Any, languages: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.languages = languages
        for code in languages:
            name = language_name(code)
            self.fields[f"fallback_{code}"] = self._message_field(
                f"Fallback message in {name}",
                "Said when the AI is not confident enough to answer, as it hands off.",
                f"Write the fallback message in {name}.",
            )
            self.fields[f"handoff_{code}"] = self._message_field(
                f"Handoff message in {name}",
                "Said when a rule or a check passes the customer to a person.",
                f"Write the handoff message in {name}.",
            )

    @staticmethod
    def _message_field(label: str, help_text: str, required: str) -> forms.CharField:
        return forms.CharField(
            label=label,
            max_length=CUSTOMER_TEXT_MAX_LENGTH,
            help_text=help_text,
            widget=forms.Textarea(attrs={"rows": 2}),
            error_messages={
                "required": required,
                "max_length": f"At most {CUSTOMER_TEXT_MAX_LENGTH} characters, please.",
            },
        )

    @classmethod
    def initial_from(cls, settings: FlowSettings) -> dict[str, Any]:
        initial: dict[str, Any] = {"guardrail_prompt": settings.guardrail_prompt}
        for code in settings.languages:
            initial[f"fallback_{code}"] = settings.fallback_messages.get(code, "")
            initial[f"handoff_{code}"] = settings.handoff_messages.get(code, "")
        return initial

    def language_fields(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        """Per enabled language: its name and its fallback and handoff fields."""
        return [
            (language_name(code), self[f"fallback_{code}"], self[f"handoff_{code}"])
            for code in self.languages
        ]

    def settings_from(self, current: dict[str, Any]) -> dict[str, Any]:
        values = self.cleaned_data
        fallback = dict(current.get("fallback_messages") or {})
        handoff = dict(current.get("handoff_messages") or {})
        for code in self.languages:
            fallback[code] = values[f"fallback_{code}"]
            handoff[code] = values[f"handoff_{code}"]
        return {
            **current,
            "guardrail_prompt": values["guardrail_prompt"],
            "fallback_messages": fallback,
            "handoff_messages": handoff,
        }


class PromptExampleForm(forms.Form):
    """The example customer message the prompt preview is built for."""

    example_message = forms.CharField(
        label="Example customer message",
        required=False,
        max_length=SIMULATE_MESSAGE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text="The passages retrieved for it go in the user message.",
        error_messages={"max_length": f"At most {SIMULATE_MESSAGE_MAX_LENGTH} characters, please."},
    )
    preview_language = forms.ChoiceField(
        label="Customer's language",
        required=False,
        help_text="Fills {language}.",
        error_messages={"invalid_choice": "Choose one of the flow's languages."},
    )

    def __init__(self, *args: Any, languages: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Detect it from the message")]
        choices += [(code, language_name(code)) for code in languages]
        language_field = self.fields["preview_language"]
        assert isinstance(language_field, forms.ChoiceField)
        language_field.choices = choices

    def clean_example_message(self) -> str:
        return self.cleaned_data["example_message"].strip() or DEFAULT_EXAMPLE_MESSAGE
