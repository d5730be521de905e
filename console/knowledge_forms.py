"""Forms of the console's Knowledge pages. They check the shape of the input; the rules (file
types, size limit, unique names, valid URLs) live in `knowledge.services`, whose messages are
attached to the fields here so they show next to what the person typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from knowledge.models import Source, SourceKind
from knowledge.services import UPLOAD_KINDS

SOURCE_NAME_MAX_LENGTH = Source._meta.get_field("name").max_length


@dataclass(frozen=True)
class AddableKind:
    kind: SourceKind
    title: str
    summary: str


# The kinds an admin can add from the console, in the order they are offered. A server folder
# is left out on purpose: only someone with shell access should point the app at the disk.
ADDABLE_KINDS = (
    AddableKind(
        SourceKind.UPLOAD,
        "Upload files",
        "Markdown, HTML, PDF or text files, or a zip of them (a Notion export works).",
    ),
    AddableKind(
        SourceKind.ZENDESK, "Zendesk Help Center export", "The JSON export of your help center."
    ),
    AddableKind(
        SourceKind.OPENAPI,
        "OpenAPI spec",
        "An OpenAPI 3 spec (JSON or YAML): one article per path.",
    ),
    AddableKind(
        SourceKind.TICKETS,
        "Past resolved tickets",
        "A CSV or JSON file of resolved tickets, questions with their answers.",
    ),
    AddableKind(
        SourceKind.WEBSITE,
        "Website",
        "A start page or sitemap: the pages it links to on the same site are read.",
    ),
)


def addable_kind(value: str) -> AddableKind | None:
    return next((addable for addable in ADDABLE_KINDS if addable.kind == value), None)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def _name_field() -> forms.CharField:
    return forms.CharField(
        max_length=SOURCE_NAME_MAX_LENGTH,
        label="Name",
        help_text="How the source is listed here and cited to customers, e.g. “Help center”.",
        error_messages={"required": "Give the source a name."},
    )


class UploadSourceForm(forms.Form):
    name = _name_field()
    # Empty files are let through so the service's own message says what is wrong.
    file = forms.FileField(
        label="File",
        allow_empty_file=True,
        error_messages={"required": "Choose a file to upload."},
    )

    def __init__(self, *args: Any, kind: SourceKind, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        extensions = UPLOAD_KINDS[kind]
        file_field = self.fields["file"]
        file_field.widget.attrs["accept"] = ",".join(extensions)
        file_field.help_text = (
            f"{', '.join(extensions)}; up to {_megabytes(settings.KNOWLEDGE_MAX_UPLOAD_BYTES)}."
        )


class WebsiteSourceForm(forms.Form):
    name = _name_field()
    # A CharField, not a URLField: the service decides what a usable start URL is and says so.
    start_url = forms.CharField(
        max_length=2000,
        label="Start URL or sitemap URL",
        help_text="For example https://help.example.com/ or https://example.com/sitemap.xml.",
        widget=forms.URLInput,
        error_messages={"required": "Give a start URL or sitemap URL."},
    )
    max_pages = forms.IntegerField(
        label="Page limit",
        min_value=1,
        max_value=5000,
        initial=200,
        help_text="The crawl stops after this many pages (1 to 5000).",
    )


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's field-keyed messages next to the matching fields (others on top)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class ArticleFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search by title or external id",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    source = forms.TypedChoiceField(
        required=False, label="Source", coerce=int, empty_value=None, choices=()
    )

    def __init__(self, *args: Any, sources: list[Source], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [  # type: ignore[attr-defined]
            ("", "All sources"),
            *((str(source.pk), source.name) for source in sources),
        ]


SEARCH_LANGUAGES = (
    ("", "Any (detect it)"),
    ("en", "English"),
    ("pt", "Portuguese"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
)
LANGUAGE_NAMES = dict(SEARCH_LANGUAGES[1:])


class SearchPlaygroundForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=500,
        label="Question",
        help_text="Ask it the way a customer would.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    language = forms.ChoiceField(
        required=False,
        choices=SEARCH_LANGUAGES,
        label="Language of the question",
    )
