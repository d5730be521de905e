"""Forms of the agents' inbox: the list's filters and the reply composer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import forms

from console.flow_display import language_name
from console.models import User
from conversations.models import HUMAN_OWNED_STATUSES, ConversationStatus, Priority
from conversations.services import MESSAGE_MAX_LENGTH
from routing.flow_settings import SUPPORTED_LANGUAGES
from routing.models import Queue

MINE = "mine"
UNASSIGNED = "unassigned"

# A first, fixed set: the composer offers them as starting points the agent edits before sending.
# They belong in the console's settings once admins can write their own.
CANNED_REPLIES = (
    ("Greeting", "Hi, I'm from the support team and I'm looking into this for you now."),
    ("Need details", "Could you tell me the exact steps you took and what you saw on screen?"),
    (
        "Checking",
        "Thanks for your patience. I'm checking this with the team and will be back shortly.",
    ),
    ("Closing", "Is there anything else I can help you with today?"),
)


class InboxFilterForm(forms.Form):
    """Every field is optional; an unknown value is shown as an error and ignored."""

    status = forms.ChoiceField(
        required=False,
        label="Status",
        choices=(
            ("", "Needs a human (waiting or assigned)"),
            (ConversationStatus.WAITING, "Waiting for an agent"),
            (ConversationStatus.ASSIGNED, "With an agent"),
            (ConversationStatus.RESOLVED, "Resolved"),
        ),
    )
    assignee = forms.ChoiceField(
        required=False,
        label="Assignee",
        choices=(("", "Anyone"), (MINE, "Mine"), (UNASSIGNED, "Unassigned")),
    )
    queue = forms.TypedChoiceField(
        required=False, label="Queue", coerce=int, empty_value=None, choices=()
    )
    priority = forms.ChoiceField(
        required=False, label="Priority", choices=(("", "Any priority"), *Priority.choices)
    )
    language = forms.ChoiceField(
        required=False,
        label="Language",
        choices=(
            ("", "Any language"),
            *((code, language_name(code)) for code in SUPPORTED_LANGUAGES),
        ),
    )

    def __init__(self, *args: Any, queues: list[Queue], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queue_field = self.fields["queue"]
        assert isinstance(queue_field, forms.TypedChoiceField)
        queue_field.choices = [("", "Any queue"), *((q.pk, q.name) for q in queues)]

    def inbox_filter(self, *, agent: User) -> InboxFilter:
        """What the valid fields ask for, once `is_valid()` has run (`agent` is who "mine" is)."""
        values = self.cleaned_data
        return InboxFilter(
            status=values.get("status") or None,
            queue_id=values.get("queue"),
            priority=values.get("priority") or None,
            assignee=agent if values.get("assignee") == MINE else None,
            unassigned=values.get("assignee") == UNASSIGNED,
            language=values.get("language") or None,
        )


@dataclass(frozen=True)
class InboxFilter:
    """Which conversations an agent's inbox list shows: `inbox_conversations`'s arguments, and
    the same test applied to a conversation as a live event summarises it."""

    status: str | None = None
    queue_id: int | None = None
    priority: str | None = None
    assignee: User | None = None
    unassigned: bool = False
    language: str | None = None

    @property
    def narrows(self) -> bool:
        """Whether any filter is chosen (the list then says "matching the filters")."""
        chosen = (self.status, self.queue_id, self.priority, self.assignee, self.language)
        return self.unassigned or any(value is not None for value in chosen)

    def matches(self, conversation: Mapping[str, Any]) -> bool:
        """Whether the list shows `conversation` (`conversations.serializers.conversation_json`).
        A summary that lacks a field fails the filters on that field, never raises."""
        queue = conversation.get("queue") or {}
        assignee = conversation.get("assignee") or {}
        status = conversation.get("status")
        return (
            (
                status == self.status
                if self.status
                else status in HUMAN_OWNED_STATUSES or bool(conversation.get("actions_waiting"))
            )
            and (self.queue_id is None or queue.get("id") == self.queue_id)
            and (not self.priority or conversation.get("priority") == self.priority)
            and (self.assignee is None or assignee.get("id") == self.assignee.pk)
            and (not self.unassigned or not assignee)
            and (not self.language or conversation.get("language") == self.language)
        )


class ReplyForm(forms.Form):
    text = forms.CharField(
        label="Reply",
        max_length=MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        # The service strips and checks the text again: the form only spares a round trip.
        strip=True,
    )
    internal = forms.BooleanField(
        required=False,
        label="Internal note — not shown to the customer",
        help_text="Only agents of this workspace see internal notes.",
    )
