"""The admin audit log page: every change to how the workspace runs (flow settings, rules,
publishing, queues, actions, approvers, the team, test questions, the chat widget), newest first,
with who made it, when, and the old and new value. Admins only: it shows every setting's history,
including who has which role.

Works as a plain GET form; with htmx, changing a filter swaps only the results region.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from console.access import ADMINS_ONLY, workspace_member_required
from console.audit import audit_entries_of_workspace
from console.audit_forms import AuditFilterForm
from console.models import AuditEntry, Membership, User, Workspace

SECTION = "audit"
ENTRIES_PER_PAGE = 50
# A value longer than this on one line, or of several lines, is folded into a <details>.
SHORT_VALUE_LENGTH = 80
SUMMARY_LENGTH = 60


@dataclass(frozen=True)
class ShownValue:
    """An old or new value as the log shows it: text as is, anything else as JSON, on one line
    when it is short, folded and indented when it is long."""

    text: str
    summary: str  # the start of it on one line: what a folded value shows
    is_long: bool
    is_none: bool


def shown_value(value: Any) -> ShownValue:
    if value is None:
        return ShownValue(text="", summary="", is_long=False, is_none=True)
    one_line = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(one_line) <= SHORT_VALUE_LENGTH and "\n" not in one_line:
        return ShownValue(text=one_line, summary=one_line, is_long=False, is_none=False)
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    summary = one_line.split("\n", 1)[0][:SUMMARY_LENGTH] + "…"
    return ShownValue(text=text, summary=summary, is_long=True, is_none=False)


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    old: ShownValue
    new: ShownValue


def _people(workspace: Workspace) -> list[User]:
    """Who may appear in the log: today's members, and anyone who changed something here before
    they left."""
    changed = AuditEntry.objects.filter(workspace=workspace).values("user_id")
    return list(
        User.objects.filter(Q(memberships__workspace=workspace) | Q(pk__in=changed))
        .distinct()
        .order_by("email")
    )


@require_GET
@workspace_member_required(roles=ADMINS_ONLY)
def audit_log(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    form = AuditFilterForm(request.GET, people=_people(workspace))
    form.is_valid()  # an invalid filter is shown on its field and ignored; the others apply
    filters = form.valid_filters()
    entries = audit_entries_of_workspace(
        workspace=workspace, area=filters.get("area"), user_id=filters.get("person")
    )
    page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    htmx = getattr(request, "htmx", None)  # set by django-htmx's middleware
    wants_region = htmx is not None and bool(htmx) and not htmx.history_restore_request
    response = render(
        request,
        "console/_audit_results.html" if wants_region else "console/audit.html",
        {
            "membership": membership,
            "workspace": workspace,
            "current_section": SECTION,
            "form": form,
            "page": page,
            "rows": [
                AuditRow(
                    entry=entry, old=shown_value(entry.old_value), new=shown_value(entry.new_value)
                )
                for entry in page.object_list
            ],
            "filter_query": query.urlencode(),
            "is_region": wants_region,
        },
    )
    # The same URL answers two ways: caches must keep them apart.
    patch_vary_headers(response, ("HX-Request",))
    return response
