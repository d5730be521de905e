"""The inbox page's side of its live socket (console/inbox_live.py)."""

from __future__ import annotations

from django import template

from console.inbox_display import InboxRow
from console.inbox_live import inbox_list_shown_token

register = template.Library()


@register.filter
def inbox_list_shown(rows: list[InboxRow]) -> str:
    """What the page tells its live socket it shows (the socket then sends the list only when
    it differs)."""
    return inbox_list_shown_token(rows)
