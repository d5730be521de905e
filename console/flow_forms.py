"""The simulator form of the console's Flows pages. It checks the same limits as the simulate
API (`routing.services` holds them); the flow itself decides everything else."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from routing.services import (
    CUSTOMER_NAME_MAX_LENGTH,
    CUSTOMER_PLAN_MAX_LENGTH,
    SIMULATE_HISTORY_MAX_MESSAGES,
    SIMULATE_MESSAGE_MAX_LENGTH,
)


class SimulateForm(forms.Form):
    message = forms.CharField(
        max_length=SIMULATE_MESSAGE_MAX_LENGTH,
        label="Customer message",
        help_text="Write it the way a customer would.",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": "Write the customer's message.",
            "max_length": f"At most {SIMULATE_MESSAGE_MAX_LENGTH} characters, please.",
        },
    )
    history = forms.CharField(
        required=False,
        label="Earlier messages (optional)",
        help_text=f"The customer's earlier messages, oldest first, one per line "
        f"(up to {SIMULATE_HISTORY_MAX_MESSAGES}).",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    customer_name = forms.CharField(
        required=False, max_length=CUSTOMER_NAME_MAX_LENGTH, label="Customer name (optional)"
    )
    customer_plan = forms.CharField(
        required=False,
        max_length=CUSTOMER_PLAN_MAX_LENGTH,
        label="Customer plan (optional)",
        help_text="For rules on the plan, e.g. “enterprise”.",
    )

    def clean_history(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["history"].splitlines()]
        history = [line for line in lines if line]
        if len(history) > SIMULATE_HISTORY_MAX_MESSAGES:
            raise ValidationError(
                f"At most {SIMULATE_HISTORY_MAX_MESSAGES} earlier messages, please."
            )
        for number, line in enumerate(history, start=1):
            if len(line) > SIMULATE_MESSAGE_MAX_LENGTH:
                raise ValidationError(
                    f"Earlier message {number} is longer than "
                    f"{SIMULATE_MESSAGE_MAX_LENGTH} characters."
                )
        return history

    def customer(self) -> dict[str, Any]:
        """The customer as the flow sees it (only what was given)."""
        values = {
            "name": self.cleaned_data.get("customer_name") or "",
            "plan": self.cleaned_data.get("customer_plan") or "",
        }
        return {key: value for key, value in values.items() if value}
