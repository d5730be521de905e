"""A flow's Rules page: the draft's ordered routing rules, and for admins adding, editing,
deleting, switching off and reordering them (drag and drop, or Move up / Move down).

Every change saves the whole ordered list through `routing.services.flow_rules_update`, which
validates it, audits each change and refuses a draft that changed since the page was loaded:
each form carries the draft revision it was rendered from. Everything works as plain forms;
with htmx the list actions swap only the list, and the rule form swaps only itself while its
fields follow the chosen facts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from console.access import ADMINS_ONLY, signed_in_user, workspace_member_required
from console.flow_display import rule_lines
from console.flow_rules_forms import (
    MoveForm,
    ReorderForm,
    RevisionForm,
    RuleForm,
    SwitchForm,
    new_rule_initial,
    rule_form_refresh,
    rule_initial,
)
from console.knowledge_forms import LANGUAGE_NAMES
from console.models import Membership
from routing.models import SupportFlow
from routing.selectors import flow_of_workspace, flows_of_workspace, queues_of_workspace
from routing.services import DraftChangedError, flow_rules_update

SECTION = "rules"  # highlights "Rules" in the side navigation
DRAFT_CHANGED_LIST = (
    "Someone else changed this draft since you opened it, so nothing was changed. "
    "The list now shows the rules as they are: try again if you still want to."
)
DRAFT_CHANGED_FORM = (
    "Someone else changed this draft since you opened it. What you typed is kept below and "
    "is not saved yet: the rules list below shows the draft as it is now. Save again to apply "
    "your version."
)
RULE_GONE = (
    " The rule you were editing is no longer in the draft (someone removed or renamed it): "
    "saving adds yours as a new rule."
)

_RULE_BUTTON = re.compile(r"^rule-(\d{1,4})-(up|down|switch)$")

Rules = list[dict[str, Any]]
# A list action: the rules in their new order, what to tell the admin, and which control to
# focus afterwards. Raises ValidationError when it cannot be done.
ListChange = Callable[[Rules], tuple[Rules, str, str]]


def _flow_or_404(membership: Membership, flow_id: int) -> SupportFlow:
    flow = flow_of_workspace(workspace=membership.workspace, flow_id=flow_id)
    if flow is None:
        raise Http404("No such flow.")
    return flow


def _context(
    membership: Membership, flow: SupportFlow, *, focus: str = "", **extra: object
) -> dict[str, object]:
    # `focus` names the control that gets the focus after a change: "rules-heading", or a
    # rule's button as "rule-<position>-<up|down|switch>".
    button = _RULE_BUTTON.match(focus)
    return {
        "membership": membership,
        "workspace": membership.workspace,
        "current_section": SECTION,
        "flow": flow,
        "rules": rule_lines(flow.rules),
        "can_edit": membership.is_admin,
        # While a rule is being edited the list is shown for reference, without its controls.
        "list_controls": membership.is_admin and "form" not in extra,
        "languages": LANGUAGE_NAMES,
        "focus": focus,
        "focus_position": int(button.group(1)) if button else None,
        "focus_button": button.group(2) if button else "",
        **extra,
    }


def _is_htmx(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)  # set by django-htmx's middleware
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


def _rules_url(membership: Membership, flow: SupportFlow) -> str:
    return reverse(
        "console:flow_rules",
        kwargs={"workspace_slug": membership.workspace.slug, "flow_id": flow.pk},
    )


@workspace_member_required()
def rules_section(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The navigation's "Rules": the rules of the workspace's first flow."""
    flow = flows_of_workspace(workspace=membership.workspace).order_by("created_at", "pk").first()
    if flow is None:
        return redirect("console:flows", workspace_slug=membership.workspace.slug)
    return redirect(_rules_url(membership, flow))


@workspace_member_required()
def flow_rules(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    # After a plain-form move, the moved rule's button keeps the focus.
    focus = request.GET.get("focus", "")[:40]
    return render(request, "routing/rules.html", _context(membership, flow, focus=focus))


# --- adding and editing a rule -------------------------------------------------------------


@workspace_member_required(roles=ADMINS_ONLY)
def flow_rule_add(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    return _rule_editor(request, membership, _flow_or_404(membership, flow_id), position=None)


@workspace_member_required(roles=ADMINS_ONLY)
def flow_rule_edit(
    request: HttpRequest, membership: Membership, flow_id: int, position: int
) -> HttpResponse:
    return _rule_editor(request, membership, _flow_or_404(membership, flow_id), position=position)


def _rule_editor(
    request: HttpRequest, membership: Membership, flow: SupportFlow, *, position: int | None
) -> HttpResponse:
    rules: Rules = list(flow.rules)
    if request.method != "POST":
        if position is None:
            initial = new_rule_initial(revision=flow.draft_revision)
        else:
            initial = rule_initial(_rule_at_or_404(rules, position), revision=flow.draft_revision)
        form = _rule_form(membership, rules, position, initial=initial)
        return _editor_page(request, membership, flow, form, position)

    change = request.POST.get("_change")
    if change is not None:
        # The form changes shape (a condition added or removed, a fact chosen): nothing is
        # saved, and no errors are shown for a rule that is still being written.
        refresh = rule_form_refresh(request.POST, change[:20])
        form = _rule_form(membership, rules, position, initial=refresh.initial)
        form.focus(refresh.focus)
        return _editor_page(
            request,
            membership,
            flow,
            form,
            position,
            form_only=True,
            announcement=refresh.announcement,
            focus_add_condition=refresh.focus == "add-condition",
        )

    form = _rule_form(membership, rules, position, data=request.POST)
    if not form.is_valid():
        form.focus_first_error()
        return _editor_page(request, membership, flow, form, position, status=400)
    assert form.rule is not None  # a valid form has built its rule
    revision: int = form.cleaned_data["revision"]
    if revision != flow.draft_revision:
        return _draft_changed_editor(request, membership, flow, position)
    if position is None:
        saved_position = len(rules) + 1
        rules.append(form.rule)
    else:
        _rule_at_or_404(rules, position)
        saved_position = position
        rules[position - 1] = form.rule
    try:
        flow_rules_update(
            flow=flow, rules=rules, expected_revision=revision, by=signed_in_user(request)
        )
    except DraftChangedError:
        return _draft_changed_editor(request, membership, flow, position)
    except ValidationError as error:
        _add_service_errors(form, error, saved_position)
        return _editor_page(request, membership, flow, form, position, status=400)
    verb = "Added" if position is None else "Saved"
    messages.success(request, f"{verb} the rule “{form.rule['name']}”.")
    return redirect(f"{_rules_url(membership, flow)}#rule-{saved_position}")


def _rule_at_or_404(rules: Rules, position: int) -> dict[str, Any]:
    if not 1 <= position <= len(rules):
        raise Http404("No such rule.")
    return rules[position - 1]


def _rule_form(
    membership: Membership,
    rules: Rules,
    position: int | None,
    *,
    data: Any = None,
    initial: dict[str, Any] | None = None,
) -> RuleForm:
    return RuleForm(
        data,
        initial=initial,
        queues=[queue.name for queue in queues_of_workspace(workspace=membership.workspace)],
        other_names=[
            str(rule.get("name", ""))
            for number, rule in enumerate(rules, start=1)
            if number != position
        ],
    )


def _add_service_errors(form: RuleForm, error: ValidationError, position: int) -> None:
    """The service names the rule by position ("rule 2"): this rule's messages go next to its
    fields, another rule's (one the draft already had) on top of the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for key, items in error.message_dict.items():
        if key == f"rule {position}":
            form.add_rule_errors(ValidationError(items))
        else:
            label = key.capitalize() if key.startswith("rule ") else key
            form.add_error(None, [f"{label}: {message}" for message in items])


def _draft_changed_editor(
    request: HttpRequest, membership: Membership, flow: SupportFlow, position: int | None
) -> HttpResponse:
    """Keep what the admin typed, against the draft as it is now: saving again applies their
    rule to the current list (found again by its name when they were editing one)."""
    flow = _flow_or_404(membership, flow.pk)
    rules: Rules = list(flow.rules)
    message = DRAFT_CHANGED_FORM
    if position is not None:
        original = request.POST.get("original_name", "")
        names = [rule.get("name") for rule in rules]
        position = names.index(original) + 1 if original in names else None
        if position is None:
            message += RULE_GONE
    data = request.POST.copy()
    data["revision"] = str(flow.draft_revision)
    form = _rule_form(membership, rules, position, data=data)
    form.is_valid()
    form.add_error(None, message)
    return _editor_page(request, membership, flow, form, position, status=409)


def _editor_page(
    request: HttpRequest,
    membership: Membership,
    flow: SupportFlow,
    form: RuleForm,
    position: int | None,
    *,
    status: int = 200,
    form_only: bool = False,
    **extra: Any,
) -> HttpResponse:
    slug = membership.workspace.slug
    if position is None:
        form_url = reverse(
            "console:flow_rule_add", kwargs={"workspace_slug": slug, "flow_id": flow.pk}
        )
        heading = "Add a rule"
    else:
        form_url = reverse(
            "console:flow_rule_edit",
            kwargs={"workspace_slug": slug, "flow_id": flow.pk, "position": position},
        )
        source = form.data if form.is_bound else form.initial
        heading = f"Edit the rule “{source.get('original_name') or position}”"
    form.refresh_on_change(form_url)
    context = _context(
        membership,
        flow,
        form=form,
        form_url=form_url,
        form_heading=heading,
        editing=position,
        **extra,
    )
    htmx = _is_htmx(request)
    if form_only and htmx:
        response = render(request, "routing/_rule_form.html", {**context, "swapped": True})
    else:
        # htmx swaps only successful responses; it does not make these requests anyway (the
        # save button is a plain submit), so a full page keeps its error status.
        response = render(request, "routing/rules.html", context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- the list's actions --------------------------------------------------------------------


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def flow_rule_move(
    request: HttpRequest, membership: Membership, flow_id: int, position: int
) -> HttpResponse:
    form = MoveForm(request.POST)

    def move(rules: Rules) -> tuple[Rules, str, str]:
        up = form.cleaned_data["direction"] == "up"
        target = position - 1 if up else position + 1
        name = rules[position - 1]["name"]
        if not 1 <= target <= len(rules):
            raise ValidationError(f"“{name}” is already {'first' if up else 'last'}.")
        rules[position - 1], rules[target - 1] = rules[target - 1], rules[position - 1]
        # The focus stays on the button just pressed, unless the rule reached the end it was
        # moved to: that button is disabled then, so the other one gets it.
        at_end = target == 1 if up else target == len(rules)
        button = ("down" if up else "up") if at_end else ("up" if up else "down")
        return rules, f"Moved “{name}” to position {target}.", f"rule-{target}-{button}"

    return _list_action(request, membership, flow_id, form, move, position=position)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def flow_rule_switch(
    request: HttpRequest, membership: Membership, flow_id: int, position: int
) -> HttpResponse:
    form = SwitchForm(request.POST)

    def switch(rules: Rules) -> tuple[Rules, str, str]:
        enabled = form.cleaned_data["enabled"] == "on"
        rule = rules[position - 1] = {**rules[position - 1], "enabled": enabled}
        message = (
            f"Switched on “{rule['name']}”."
            if enabled
            else f"Switched off “{rule['name']}”: it is kept, but no message is routed by it."
        )
        return rules, message, f"rule-{position}-switch"

    return _list_action(request, membership, flow_id, form, switch, position=position)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def flow_rule_delete(
    request: HttpRequest, membership: Membership, flow_id: int, position: int
) -> HttpResponse:
    form = RevisionForm(request.POST)

    def delete(rules: Rules) -> tuple[Rules, str, str]:
        removed = rules.pop(position - 1)
        return rules, f"Deleted the rule “{removed['name']}”.", "rules-heading"

    return _list_action(request, membership, flow_id, form, delete, position=position)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def flow_rules_reorder(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    form = ReorderForm(request.POST, count=len(flow.rules))

    def reorder(rules: Rules) -> tuple[Rules, str, str]:
        order: list[int] = form.cleaned_data["order"]
        reordered = [rules[position - 1] for position in order]
        return reordered, "Saved the new order of the rules.", ""

    return _list_action(request, membership, flow_id, form, reorder, flow=flow)


def _list_action(
    request: HttpRequest,
    membership: Membership,
    flow_id: int,
    form: RevisionForm,
    change: ListChange,
    *,
    position: int | None = None,
    flow: SupportFlow | None = None,
) -> HttpResponse:
    """Validate a list action's form, apply `change` to the draft's rules and save them all;
    answer with the list (htmx) or a redirect to the page (plain forms)."""
    flow = flow or _flow_or_404(membership, flow_id)
    # A stale page first: its positions and order may not fit the draft as it is now.
    seen = RevisionForm(request.POST)
    if seen.is_valid() and seen.cleaned_data["revision"] != flow.draft_revision:
        return _list_response(request, membership, flow, errors=[DRAFT_CHANGED_LIST], status=409)
    if not form.is_valid():
        errors = [str(message) for field in form.errors.values() for message in field]
        return _list_response(request, membership, flow, errors=errors, status=400)
    revision: int = form.cleaned_data["revision"]
    rules: Rules = list(flow.rules)
    if position is not None:
        _rule_at_or_404(rules, position)
    try:
        rules, message, focus = change(rules)
        flow = flow_rules_update(
            flow=flow,
            rules=rules,
            expected_revision=revision,
            by=signed_in_user(request),
        )
    except DraftChangedError:
        flow = _flow_or_404(membership, flow_id)
        return _list_response(request, membership, flow, errors=[DRAFT_CHANGED_LIST], status=409)
    except ValidationError as error:
        return _list_response(
            request, membership, flow, errors=[str(m) for m in error.messages], status=400
        )
    if _is_htmx(request):
        return _list_response(request, membership, flow, notice=message, focus=focus)
    messages.success(request, message)
    if not focus:
        return redirect(_rules_url(membership, flow))
    anchor = focus.rsplit("-", 1)[0] if focus.startswith("rule-") else focus
    return redirect(f"{_rules_url(membership, flow)}?focus={focus}#{anchor}")


def _list_response(
    request: HttpRequest,
    membership: Membership,
    flow: SupportFlow,
    *,
    errors: Sequence[str] = (),
    notice: str = "",
    focus: str = "",
    status: int = 200,
) -> HttpResponse:
    context = _context(membership, flow, list_errors=errors, notice=notice, focus=focus)
    if _is_htmx(request):
        # htmx swaps only successful responses, so an error is a 200 that shows it in the list.
        response = render(request, "routing/_rule_list.html", {**context, "swapped": True})
    else:
        response = render(request, "routing/rules.html", context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response
