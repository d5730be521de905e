"""What the inbox page's live socket sends, for the filter the agent chose (console.consumers).

The page names its filter in the socket's query string. For each `inbox.conversation` event the
socket then sends what that filtered list needs, and nothing else:
- the whole row, when a handoff puts a matching conversation in the inbox;
- the row's state cells, when a listed conversation changes and still matches;
- the row's removal, when a listed conversation stops matching (a colleague claimed it under
  "Unassigned", it was resolved, it moved to another queue);
- the whole list again, when a conversation starts to match without a handoff (claimed under
  "Mine", transferred to this queue, resolved under "Resolved"), because its place in the list
  and what the customer wants come from the database, not from the event; and when the last
  row goes, so that the list says it is empty.
The events carry the conversation's summary (`conversation_json`), so deciding costs no query.

On connect the socket sends the list once, unless the page was rendered moments ago with exactly
that list (it puts the time and a digest of its rows in the query string): a socket that was down
while conversations changed catches up without a reload, and a fresh page is not redrawn (nor
read out again by a screen reader) for nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from django.template.loader import render_to_string

from console.inbox_display import InboxRow, inbox_row_of_conversation
from console.inbox_forms import InboxFilter
from console.models import Workspace
from conversations.selectors import inbox_conversations

# The list's groups, most urgent first, as the inbox page orders them.
INBOX_PRIORITIES = ("urgent", "high", "normal")
# How long after rendering a page is taken to still show what it was rendered with: its socket
# connects within a second or two (a loaded machine aside, and then the list is only sent once
# more than needed). Clocks of several servers may differ a little, hence either way.
SHOWN_FOR_SECONDS = 10


class ListUpdate(StrEnum):
    ROW = "row"
    CELLS = "cells"
    REMOVE = "remove"
    LIST = "list"


def inbox_list_update(
    event: Mapping[str, Any], *, inbox_filter: InboxFilter, listed: set[int]
) -> ListUpdate | None:
    """What a list showing the conversations `listed`, filtered by `inbox_filter`, needs for
    `event`; None when the event does not concern it."""
    conversation = event.get("conversation")
    if not isinstance(conversation, Mapping):
        return None
    conversation_id = conversation.get("id")
    is_listed = conversation_id in listed
    if inbox_filter.matches(conversation):
        if event.get("change") == "handoff":
            return ListUpdate.ROW
        return ListUpdate.CELLS if is_listed else ListUpdate.LIST
    if not is_listed:
        return None
    return ListUpdate.LIST if len(listed) == 1 else ListUpdate.REMOVE


def inbox_list_rows(*, workspace: Workspace, inbox_filter: InboxFilter) -> list[InboxRow]:
    """The rows the inbox page lists for `inbox_filter`."""
    conversations = inbox_conversations(
        workspace=workspace,
        status=inbox_filter.status,
        queue_id=inbox_filter.queue_id,
        priority=inbox_filter.priority,
        assignee=inbox_filter.assignee,
        unassigned=inbox_filter.unassigned,
        language=inbox_filter.language,
    )
    return [inbox_row_of_conversation(conversation) for conversation in conversations]


def inbox_list_shown_token(rows: Iterable[InboxRow], *, now: float | None = None) -> str:
    """What the page tells its socket it shows: when it was rendered, and a digest of its rows."""
    rendered_at = int(time.time() if now is None else now)
    return f"{rendered_at}-{_digest(rows)}"


def inbox_list_is_shown(token: str | None, rows: Iterable[InboxRow]) -> bool:
    """Whether the page that sent `token` shows `rows`: it was rendered moments ago, with these
    rows. A reconnect comes later, after live updates may have changed the page in ways this
    process cannot know (even back and forth to the same rows), so it is sent the list again."""
    rendered_at, _, digest = (token or "").partition("-")
    try:
        age = time.time() - int(rendered_at)
    except ValueError:
        return False
    return abs(age) <= SHOWN_FOR_SECONDS and digest == _digest(rows)


def _digest(rows: Iterable[InboxRow]) -> str:
    shown = json.dumps([dataclasses.astuple(row) for row in rows], default=str)
    return hashlib.sha256(shown.encode()).hexdigest()[:16]


def inbox_list_html(rows: list[InboxRow], *, inbox_filter: InboxFilter) -> str:
    """The list's table, swapped in place of the page's (out of band)."""
    return render_to_string(
        "inbox/_table.html",
        {
            "rows": rows,
            "filtered": inbox_filter.narrows,
            "priorities": INBOX_PRIORITIES,
            "oob": True,
        },
    )
