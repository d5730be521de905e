"""Filters for the inbox's live templates: they turn an `inbox.conversation` event into the
values the page's own partials render (see console/inbox_display.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

from console.inbox_display import (
    InboxRow,
    TranscriptItem,
    inbox_row_of_event,
    transcript_item_of_event,
)

register = template.Library()


@register.filter
def inbox_row(event: Mapping[str, Any]) -> InboxRow:
    return inbox_row_of_event(event)


@register.filter
def transcript_item(event: Mapping[str, Any]) -> TranscriptItem | None:
    return transcript_item_of_event(event)
