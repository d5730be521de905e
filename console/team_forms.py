"""Forms of the console's Team pages: inviting a member, changing a role, and queues with their
members. They check the shape of the input; the rules (the last admin, tiers, unique queue names,
who may work a queue) live in `console.services` and `routing.services`."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from console.models import Membership, Role
from console.services import EMAIL_MAX_LENGTH, PERSON_NAME_MAX_LENGTH

# A role and, for agents, their tier, as one choice: no form can ask for a tiered viewer.
ACCESS_CHOICES = (
    ("admin", "Admin"),
    ("agent:2", "Agent, tier 2"),
    ("agent:1", "Agent, tier 1"),
    ("viewer", "Viewer"),
)
DAMAGED_FORM = "The form is damaged: reload the page."


def access_of(membership: Membership) -> str:
    """The ACCESS_CHOICES value of a membership: "admin", "agent:1", "agent:2" or "viewer"."""
    if membership.role == Role.AGENT:
        return f"agent:{membership.tier}"
    return str(membership.role)


def role_and_tier(access: str) -> tuple[str, int | None]:
    role, _, tier = access.partition(":")
    return role, int(tier) if tier else None


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=EMAIL_MAX_LENGTH,
        error_messages={
            "required": "Give the person's email address.",
            "invalid": "Enter an email address such as sam@example.com.",
        },
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    name = forms.CharField(label="Name", required=False, max_length=PERSON_NAME_MAX_LENGTH)
    access = forms.ChoiceField(label="Role", choices=ACCESS_CHOICES, initial="agent:1")
    password = forms.CharField(
        label="Initial password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="This console sends no email yet: give the password to the person yourself; "
        "they sign in with their email and it. Someone who already has an account here keeps "
        "their own password.",
        error_messages={"required": "Choose an initial password."},
    )


class MemberRoleForm(forms.Form):
    access = forms.ChoiceField(label="Role", choices=ACCESS_CHOICES)
    # The role the editor saw: a change someone else saved in between is not overwritten.
    was = forms.ChoiceField(
        choices=ACCESS_CHOICES,
        widget=forms.HiddenInput,
        error_messages={"required": DAMAGED_FORM, "invalid_choice": DAMAGED_FORM},
    )

    @classmethod
    def for_member(cls, membership: Membership, data: Any = None) -> MemberRoleForm:
        access = access_of(membership)
        return cls(data, prefix=f"m{membership.pk}", initial={"access": access, "was": access})


TIER_CHOICES = ((1, "Tier 1"), (2, "Tier 2"))


class QueueForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=80,
        error_messages={"required": "Give the queue a name."},
        help_text="Rules hand off to a queue by this name.",
    )
    tier = forms.TypedChoiceField(label="Tier", choices=TIER_CHOICES, coerce=int, initial=1)
    sla_wait_minutes = forms.IntegerField(
        label="Longest wait (minutes)",
        min_value=1,
        max_value=7 * 24 * 60,
        initial=10,
        help_text="A conversation waiting unclaimed longer than this is raised in priority.",
        error_messages={
            "required": "Give the longest wait, in minutes.",
            "invalid": "A whole number of minutes.",
        },
    )
    # The queue as the editor saw it (JSON), when editing.
    loaded = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_loaded(self) -> dict[str, Any] | None:
        text = self.cleaned_data["loaded"]
        if not text:
            return None
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if not isinstance(loaded, dict):
            raise ValidationError(DAMAGED_FORM)
        return loaded


class QueueMembersForm(forms.Form):
    members = forms.TypedMultipleChoiceField(
        label="Members",
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": "Choose among the admins and agents of this workspace.",
        },
    )
    loaded = forms.CharField(widget=forms.HiddenInput, error_messages={"required": DAMAGED_FORM})

    def __init__(self, *args: Any, candidates: list[Membership], **kwargs: Any) -> None:
        # Shares its page with the queue's own form: ids of its own.
        kwargs.setdefault("auto_id", "queue_members_%s")
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = [  # type: ignore[attr-defined]
            (membership.user_id, f"{membership.user.display_name} ({membership.role_label})")
            for membership in candidates
        ]

    def clean_loaded(self) -> list[int]:
        try:
            loaded = json.loads(self.cleaned_data["loaded"])
        except ValueError:
            loaded = None
        if not isinstance(loaded, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) for item in loaded
        ):
            raise ValidationError(DAMAGED_FORM)
        return loaded
