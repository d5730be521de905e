"""Forms of a flow's Test questions, Publish and Export / import pages. They check the shape of
what was sent; the rules live in the services (`routing.question_set`, `routing.flow_release`,
`routing.flow_yaml`), whose messages are attached to the fields here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from console.flow_display import REASON_LABELS, language_name
from routing.flow_settings import SUPPORTED_LANGUAGES
from routing.flow_yaml import YAML_MAX_BYTES
from routing.models import TestQuestion
from routing.question_set import (
    CUSTOMER_KEYS_MAX,
    IMPORT_MAX_BYTES,
    QUESTION_MAX_TURNS,
    QUESTION_NAME_MAX_LENGTH,
    REASONS,
)
from routing.rules import PRIORITIES

# The customer attributes with a field of their own; the others are written as name=value lines.
NAMED_ATTRIBUTES = {"name": "Customer name", "plan": "Plan", "language": "Customer language"}
ATTRIBUTE_MAX_LENGTH = 200


def _uploaded_text(upload: UploadedFile, limit: int) -> str:
    if upload.size is not None and upload.size > limit:
        raise ValidationError(f"The file is larger than {limit // 1000} kB.")
    try:
        return upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text.") from None


# --- test questions --------------------------------------------------------------------------


class TestQuestionForm(forms.Form):
    __test__ = False  # not a pytest test class, whatever its name says

    name = forms.CharField(
        max_length=QUESTION_NAME_MAX_LENGTH,
        label="Name",
        help_text="How the question is listed, and its id in the JSONL file, e.g. “reset-link”.",
        error_messages={"required": "Give the question a name."},
    )
    turns = forms.CharField(
        label="Customer messages",
        help_text=f"One message per line, in order: each line is the customer's next message in "
        f"the same conversation (up to {QUESTION_MAX_TURNS}).",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write at least one customer message."},
    )
    customer_name = forms.CharField(
        required=False, max_length=ATTRIBUTE_MAX_LENGTH, label="Customer name (optional)"
    )
    customer_plan = forms.CharField(
        required=False,
        max_length=ATTRIBUTE_MAX_LENGTH,
        label="Plan (optional)",
        help_text="For rules on the plan, e.g. “enterprise”.",
    )
    customer_language = forms.ChoiceField(
        required=False,
        label="Customer language attribute (optional)",
        help_text="For rules on the customer attribute “language”; the AI still detects the "
        "language of each message.",
    )
    customer_attributes = forms.CharField(
        required=False,
        label="Other customer attributes (optional)",
        help_text="One per line as name=value, e.g. company=Acme.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    expected_outcome = forms.ChoiceField(
        label="Expected outcome",
        choices=(
            (TestQuestion.Outcome.ANSWER, "The AI answers"),
            (TestQuestion.Outcome.HANDOFF, "The AI hands off to a person"),
        ),
    )
    expected_articles = forms.CharField(
        required=False,
        label="Expected articles (answers only)",
        help_text="External ids, one per line, best first: the answer must cite one of them "
        "first. Leave empty to accept any source.",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
    )
    expected_language = forms.ChoiceField(required=False, label="Expected reply language")
    expected_reason = forms.ChoiceField(
        required=False,
        label="Expected handoff reason (handoffs only)",
        choices=(("", "Any reason"), *((reason, REASON_LABELS[reason]) for reason in REASONS)),
    )
    expected_priority = forms.ChoiceField(
        required=False,
        label="Expected priority (handoffs only)",
        choices=(("", "Any priority"), *((p, p.capitalize()) for p in PRIORITIES)),
    )
    # When the question was loaded: a save over someone else's newer change is refused.
    updated_at = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, known_articles: set[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.known_articles = known_articles
        languages = [(code, f"{language_name(code)} ({code})") for code in SUPPORTED_LANGUAGES]
        self.fields["customer_language"].choices = [("", "Not given"), *languages]  # type: ignore[attr-defined]
        self.fields["expected_language"].choices = [("", "Any language"), *languages]  # type: ignore[attr-defined]

    @classmethod
    def initial_of(cls, question: TestQuestion) -> dict[str, Any]:
        customer = dict(question.customer)
        named = {key: str(customer.pop(key, "") or "") for key in NAMED_ATTRIBUTES}
        return {
            "name": question.name,
            "turns": "\n".join(question.turns),
            "customer_name": named["name"],
            "customer_plan": named["plan"],
            "customer_language": named["language"],
            "customer_attributes": "\n".join(f"{key}={value}" for key, value in customer.items()),
            "expected_outcome": question.expected_outcome,
            "expected_articles": "\n".join(question.expected_articles),
            "expected_language": question.expected_language,
            "expected_reason": question.expected_reason,
            "expected_priority": question.expected_priority,
            "updated_at": question.updated_at.isoformat(),
        }

    def clean_turns(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["turns"].splitlines()]
        turns = [line for line in lines if line]
        if not turns:
            raise ValidationError("Write at least one customer message.")
        return turns

    def clean_customer_attributes(self) -> dict[str, str]:
        attributes: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["customer_attributes"].splitlines(), 1):
            if not line.strip():
                continue
            key, equals, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if not equals or not key:
                raise ValidationError(f"Line {number}: write name=value, e.g. company=Acme.")
            if key in NAMED_ATTRIBUTES:
                raise ValidationError(
                    f"Line {number}: use the “{NAMED_ATTRIBUTES[key]}” field for {key}."
                )
            if key in attributes:
                raise ValidationError(f"Line {number}: {key} is given twice.")
            if len(key) > 60 or len(value) > ATTRIBUTE_MAX_LENGTH:
                raise ValidationError(f"Line {number}: too long.")
            attributes[key] = value
        if len(attributes) > CUSTOMER_KEYS_MAX - len(NAMED_ATTRIBUTES):
            raise ValidationError(f"At most {CUSTOMER_KEYS_MAX - len(NAMED_ATTRIBUTES)} lines.")
        return attributes

    def clean_expected_articles(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["expected_articles"].splitlines()]
        articles = list(dict.fromkeys(line for line in lines if line))
        unknown = [article for article in articles if article not in self.known_articles]
        if unknown:
            raise ValidationError(
                f"No article has the id “{unknown[0]}” in this workspace: check it against the "
                "suggestions of “Find an article”."
            )
        return articles

    def clean_updated_at(self) -> datetime | None:
        value = self.cleaned_data["updated_at"]
        try:
            return datetime.fromisoformat(value) if value else None
        except ValueError:
            raise ValidationError("Reload the page and edit the question again.") from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # The service would drop what does not apply to the outcome: say so instead.
        if cleaned.get("expected_outcome") == TestQuestion.Outcome.HANDOFF:
            if cleaned.get("expected_articles"):
                self.add_error(
                    "expected_articles",
                    "Articles apply when the AI answers: clear them, or expect an answer.",
                )
        elif cleaned.get("expected_outcome") == TestQuestion.Outcome.ANSWER:
            for name in ("expected_reason", "expected_priority"):
                if cleaned.get(name):
                    self.add_error(
                        name, "This applies when the AI hands off: choose “Any”, or expect that."
                    )
        return cleaned

    def question_data(self) -> dict[str, Any]:
        """The question as `routing.question_set.question_save` takes it."""
        values = self.cleaned_data
        named = {
            "name": values["customer_name"].strip(),
            "plan": values["customer_plan"].strip(),
            "language": values["customer_language"],
        }
        return {
            "name": values["name"],
            "turns": values["turns"],
            "customer": {**{k: v for k, v in named.items() if v}, **values["customer_attributes"]},
            "expected_outcome": values["expected_outcome"],
            "expected_articles": values["expected_articles"],
            "expected_language": values["expected_language"],
            "expected_reason": values["expected_reason"],
            "expected_priority": values["expected_priority"],
        }


class QuestionsImportForm(forms.Form):
    file = forms.FileField(
        label="JSONL file of test questions",
        help_text="One case per line in the evaluation format: "
        '{"id": …, "turns": […], "customer": {…}, "expect": {"outcome": …}}. '
        "A question with the same id is updated. All or nothing: a bad line saves nothing.",
        allow_empty_file=True,
        error_messages={"required": "Choose a JSONL file to import."},
    )

    def clean_file(self) -> str:
        return _uploaded_text(self.cleaned_data["file"], IMPORT_MAX_BYTES)


# --- publishing ------------------------------------------------------------------------------


class PublishForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=200,
        label="Note (optional)",
        help_text="What changed and why, for the version history.",
        error_messages={"max_length": "At most 200 characters, please."},
    )
    # The failures the admin saw and confirmed; the server runs the questions again and only
    # publishes when the count is still the same.
    confirm_failures = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    revision = forms.IntegerField(widget=forms.HiddenInput)


class RollbackForm(forms.Form):
    revision = forms.IntegerField(widget=forms.HiddenInput)


# --- export / import -------------------------------------------------------------------------


class FlowImportForm(forms.Form):
    yaml_text = forms.CharField(
        required=False,
        strip=False,
        label="Flow as YAML",
        help_text="Edit it here, or paste an exported file, then import it into the draft.",
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"}),
    )
    yaml_file = forms.FileField(
        required=False,
        label="Or import a YAML file",
        help_text="A file chosen here is imported instead of the text above.",
        allow_empty_file=True,
    )
    revision = forms.IntegerField(widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("yaml_file")
        if upload:
            try:
                cleaned["text"] = _uploaded_text(upload, YAML_MAX_BYTES)
            except ValidationError as error:
                self.add_error("yaml_file", error)
        elif cleaned.get("yaml_text", "").strip():
            cleaned["text"] = cleaned["yaml_text"]
        elif "yaml_text" in cleaned:
            self.add_error("yaml_text", "Paste the flow's YAML here, or choose a file below.")
        return cleaned
