"""The console's Actions section: the workspace's AI actions with their risk and policy, the
built-in templates, who may approve each risk level, the webhook signing secret, and the log of
every request and approval.

Thin views: they check access, validate input and call `routing.actions` (writes, audited there)
and the selectors. Every member sees the pages; only admins change anything (a forged POST from
anyone else is 403). Pages work as plain forms; with htmx the request log's filters swap only its
results region.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from console.access import ADMINS_ONLY, signed_in_user, workspace_member_required
from console.action_display import log_row
from console.action_forms import (
    APPROVER_LABELS,
    DAMAGED_FORM,
    ActionEnabledForm,
    ActionForm,
    ActionRequestFilterForm,
    ApproversForm,
)
from console.action_selectors import action_request_log, webhook_secret_of_workspace
from console.knowledge_forms import add_service_errors
from console.models import Membership
from routing import actions as services
from routing.action_parameters import empty_parameter_schema
from routing.models import APPROVER_SPECS, Action, ActionApprovalPolicy, ActionRisk
from routing.selectors import (
    action_approval_policies_of_workspace,
    action_of_workspace,
    actions_of_workspace,
)

SECTION = "actions"  # highlights "Actions" in the side navigation on every page of the section
REQUESTS_PER_PAGE = 25


def _context(membership: Membership, **extra: object) -> dict[str, object]:
    return {
        "membership": membership,
        "workspace": membership.workspace,
        "current_section": SECTION,
        "can_change": membership.is_admin,
        **extra,
    }


def _action_or_404(membership: Membership, action_id: int) -> Action:
    action = action_of_workspace(workspace=membership.workspace, action_id=action_id)
    if action is None:
        raise Http404("No such action.")
    return action


def _to_actions(membership: Membership, anchor: str = "") -> HttpResponse:
    url = reverse("console:actions", kwargs={"workspace_slug": membership.workspace.slug})
    return redirect(f"{url}#{anchor}" if anchor else url)


# --- the catalogue, approvers and secret ---------------------------------------------------


@require_GET
@workspace_member_required()
def actions(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _actions_page(request, membership)


def _actions_page(
    request: HttpRequest,
    membership: Membership,
    *,
    approvers_form: ApproversForm | None = None,
    new_secret: str = "",
    status: int = 200,
) -> HttpResponse:
    workspace = membership.workspace
    policies = action_approval_policies_of_workspace(workspace=workspace)
    if approvers_form is None and membership.is_admin:
        approvers_form = ApproversForm(
            initial={
                "loaded": json.dumps({policy.risk: policy.approvers for policy in policies}),
                **{f"approvers_{policy.risk}": policy.approvers for policy in policies},
            }
        )
    return render(
        request,
        "actions/actions.html",
        _context(
            membership,
            actions=actions_of_workspace(workspace=workspace),
            approver_columns=[(spec, APPROVER_LABELS[spec]) for spec in APPROVER_SPECS],
            approval_rows=_approval_rows(policies, approvers_form),
            approvers_form=approvers_form,
            secret=webhook_secret_of_workspace(workspace=workspace),
            new_secret=new_secret,
        ),
        status=status,
    )


def _approval_rows(
    policies: list[ActionApprovalPolicy], form: ApproversForm | None
) -> list[dict[str, Any]]:
    """One row per risk level: who may approve (as stored, or as the admin just ticked them when
    their save was refused), with the level's errors."""
    rows = []
    for policy in policies:
        field_name = f"approvers_{policy.risk}"
        if form is not None and form.is_bound:
            ticked = set(form[field_name].value() or ())
        else:
            ticked = set(policy.approvers)
        rows.append(
            {
                "risk": policy.risk,
                "label": policy.get_risk_display(),
                "field_name": field_name,
                "cells": [
                    {
                        "spec": spec,
                        "label": APPROVER_LABELS[spec],
                        "checked": spec in ticked,
                        # The services refuse it; the grid does not offer it.
                        "never": policy.risk == ActionRisk.DESTRUCTIVE and spec == "viewer",
                    }
                    for spec in APPROVER_SPECS
                ],
                "errors": form.errors.get(field_name, []) if form is not None else [],
                "policy": policy,
            }
        )
    return rows


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def approvers_update(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = ApproversForm(request.POST)
    if form.is_valid():
        loaded = form.cleaned_data["loaded"]
        # Only the levels the admin changed: "last changed by" stays true for the others.
        changed = {
            risk: specs
            for risk, specs in form.approvers_by_risk().items()
            if set(specs) != set(loaded.get(risk, ()))
        }
        if not changed:
            messages.success(request, "Nothing changed: who may approve stays as it was.")
            return _to_actions(membership, "approvers")
        try:
            services.action_approval_policies_update(
                workspace=membership.workspace,
                approvers_by_risk=changed,
                updated_by=signed_in_user(request),
                expected_by_risk=loaded,
            )
        except services.ApproversChangedError as error:
            form.add_error(None, error.messages)
        except ValidationError as error:
            # Keyed by risk level: each level's message goes next to its row.
            for risk, problems in error.message_dict.items():
                form.add_error(f"approvers_{risk}" if risk in ActionRisk.values else None, problems)
        else:
            messages.success(request, "Saved who may approve each risk level.")
            return _to_actions(membership, "approvers")
    return _actions_page(request, membership, approvers_form=form, status=400)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def templates_install(request: HttpRequest, membership: Membership) -> HttpResponse:
    installed = services.action_templates_install(
        workspace=membership.workspace, by=signed_in_user(request)
    )
    if installed.created:
        names = ", ".join(action.name for action in installed.created)
        messages.success(
            request,
            f"Installed {len(installed.created)} built-in action"
            f"{'s' if len(installed.created) != 1 else ''}: {names}. They stay disabled until you "
            "set your webhook URL and enable them.",
        )
    else:
        messages.success(request, "Every built-in action is already installed; nothing changed.")
    return _to_actions(membership)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def webhook_secret_rotate(request: HttpRequest, membership: Membership) -> HttpResponse:
    secret = services.action_webhook_secret_rotate(
        workspace=membership.workspace, by=signed_in_user(request)
    )
    # Shown in this response only: never stored in a message, never cached.
    response = _actions_page(request, membership, new_secret=secret.secret)
    add_never_cache_headers(response)
    return response


# --- one action ----------------------------------------------------------------------------


@workspace_member_required(roles=ADMINS_ONLY)
def action_add(request: HttpRequest, membership: Membership) -> HttpResponse:
    if request.method == "POST":
        form = ActionForm(request.POST)
        if form.is_valid():
            try:
                action = services.action_create(
                    workspace=membership.workspace,
                    **form.action_values(),
                    by=signed_in_user(request),
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"Added the action “{action.name}”.")
                return _to_actions(membership)
    else:
        form = ActionForm(
            initial={
                "risk": ActionRisk.WRITE,
                "policy": "suggest",
                "parameters": json.dumps(empty_parameter_schema(), indent=2),
            }
        )
    return _action_form_page(request, membership, form, action=None)


@require_GET
@workspace_member_required()
def action_detail(request: HttpRequest, membership: Membership, action_id: int) -> HttpResponse:
    """An admin edits the action here; everyone else reads it."""
    action = _action_or_404(membership, action_id)
    form = ActionForm.for_action(action) if membership.is_admin else None
    return _action_form_page(request, membership, form, action=action)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def action_edit(request: HttpRequest, membership: Membership, action_id: int) -> HttpResponse:
    action = _action_or_404(membership, action_id)
    form = ActionForm(request.POST)
    if form.is_valid() and form.cleaned_data["loaded_at"] is None:
        form.add_error(None, DAMAGED_FORM)  # an edit always says which version it started from
    if form.is_valid():
        try:
            action = services.action_update(
                action=action,
                changes=form.action_values(),
                by=signed_in_user(request),
                expected_updated_at=form.cleaned_data["loaded_at"],
            )
        except services.ActionChangedError as error:
            form.add_error(None, error.messages)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Saved the action “{action.name}”.")
            return _to_actions(membership)
    return _action_form_page(request, membership, form, action=action)


def _action_form_page(
    request: HttpRequest, membership: Membership, form: ActionForm | None, *, action: Action | None
) -> HttpResponse:
    if form is not None:
        _autofocus(form)
    return render(
        request,
        "actions/action.html",
        _context(
            membership,
            form=form,
            action=action,
            parameters_json=json.dumps(action.parameters, indent=2) if action else "",
        ),
        status=400 if form is not None and form.errors else 200,
    )


def _autofocus(form: ActionForm) -> None:
    """Focus the first field with an error, or the first field: where the person goes next."""
    visible = [name for name in form.fields if name != "loaded_at"]
    first = next((name for name in visible if name in form.errors), visible[0])
    form.fields[first].widget.attrs["autofocus"] = True


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def action_enabled_set(
    request: HttpRequest, membership: Membership, action_id: int
) -> HttpResponse:
    action = _action_or_404(membership, action_id)
    form = ActionEnabledForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether to enable or disable the action.")
        return _to_actions(membership)
    enabled = form.cleaned_data["enabled"]
    try:
        action = services.action_update(
            action=action, changes={"enabled": enabled}, by=signed_in_user(request)
        )
    except ValidationError as error:
        problems = " ".join(error.messages)
        messages.error(request, f"“{action.name}” was not enabled: {problems}")
    else:
        state = "enabled" if action.enabled else "disabled"
        messages.success(request, f"“{action.name}” is {state}.")
    return _to_actions(membership, f"action-{action.pk}")


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def action_delete(request: HttpRequest, membership: Membership, action_id: int) -> HttpResponse:
    action = _action_or_404(membership, action_id)
    name = action.name
    try:
        services.action_delete(action=action, by=signed_in_user(request))
    except ValidationError as error:
        messages.error(request, f"“{name}” was not deleted: {' '.join(error.messages)}")
    else:
        messages.success(request, f"Deleted the action “{name}”.")
    return _to_actions(membership)


# --- the request log -----------------------------------------------------------------------


@require_GET
@workspace_member_required()
def action_requests(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    form = ActionRequestFilterForm(
        request.GET, actions=list(actions_of_workspace(workspace=workspace))
    )
    form.is_valid()  # an invalid filter is shown on its field and ignored; the others apply
    found = action_request_log(workspace=workspace, filters=form.valid_filters())
    page = Paginator(found, REQUESTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    htmx = getattr(request, "htmx", None)  # set by django-htmx's middleware
    wants_region = htmx is not None and bool(htmx) and not htmx.history_restore_request
    context = _context(
        membership,
        form=form,
        page=page,
        rows=[log_row(item) for item in page.object_list],
        filter_query=query.urlencode(),
        is_region=wants_region,
    )
    response = render(
        request,
        "actions/_request_results.html" if wants_region else "actions/requests.html",
        context,
    )
    # The same URL answers two ways: caches must keep them apart.
    patch_vary_headers(response, ("HX-Request",))
    return response
