"""The filters of the admin audit log."""

from __future__ import annotations

from typing import Any

from django import forms

from console.audit import AUDIT_AREAS
from console.models import User


class AuditFilterForm(forms.Form):
    """Each filter is optional; an invalid one (an area that does not exist, a person who never
    worked here) is reported on its field and ignored."""

    area = forms.ChoiceField(
        label="Area",
        required=False,
        choices=(("", "All areas"), *((area, area.capitalize()) for area in AUDIT_AREAS)),
    )
    person = forms.TypedChoiceField(
        label="Person", required=False, coerce=int, empty_value=None, choices=()
    )

    def __init__(self, *args: Any, people: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [  # type: ignore[attr-defined]
            ("", "Everyone"),
            *((str(person.pk), f"{person.display_name} ({person.email})") for person in people),
        ]

    def valid_filters(self) -> dict[str, Any]:
        """The filters that are valid (call after is_valid())."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in self.errors and value not in (None, "")
        }
