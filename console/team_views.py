"""The console's Team section: the members of the workspace with their roles and tiers, and the
queues handed-off conversations wait in, with their tier, SLA and members.

Thin views: they check access, validate input and call `console.services` and `routing.services`
(writes, audited there). Every member sees the pages; only admins change anything (a forged POST
from anyone else is 403). Plain forms, redirect after a successful change; a refused change
re-renders the page with the person's input and the reason.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from console import services
from console.access import ADMINS_ONLY, signed_in_user, workspace_member_required
from console.knowledge_forms import add_service_errors
from console.models import Membership, Role
from console.selectors import memberships_of_workspace
from console.team_forms import (
    DAMAGED_FORM,
    InviteForm,
    MemberRoleForm,
    QueueForm,
    QueueMembersForm,
    role_and_tier,
)
from routing import services as routing_services
from routing.models import Queue
from routing.selectors import queues_of_workspace

SECTION = "team"  # highlights "Team" in the side navigation on every page of the section


def _context(membership: Membership, **extra: object) -> dict[str, object]:
    return {
        "membership": membership,
        "workspace": membership.workspace,
        "current_section": SECTION,
        "can_change": membership.is_admin,
        **extra,
    }


def _to(name: str, membership: Membership, anchor: str = "", **kwargs: Any) -> HttpResponse:
    url = reverse(f"console:{name}", kwargs={"workspace_slug": membership.workspace.slug, **kwargs})
    return redirect(f"{url}#{anchor}" if anchor else url)


# --- members -------------------------------------------------------------------------------


def team_page(
    request: HttpRequest,
    membership: Membership,
    *,
    invite_form: InviteForm | None = None,
    role_form: MemberRoleForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The Team page; a refused invite or role change shows its form as the person filled it."""
    can_change = membership.is_admin
    rows = []
    for member in memberships_of_workspace(workspace=membership.workspace):
        form = None
        if can_change:
            refused = role_form is not None and role_form.prefix == f"m{member.pk}"
            form = role_form if refused else MemberRoleForm.for_member(member)
        rows.append({"member": member, "form": form, "is_you": member.pk == membership.pk})
    if can_change and invite_form is None:
        invite_form = InviteForm()
    return render(
        request,
        "console/team.html",
        _context(membership, rows=rows, invite_form=invite_form, tab="members"),
        status=status,
    )


def _member_or_404(membership: Membership, member_id: int) -> Membership:
    member = memberships_of_workspace(workspace=membership.workspace).filter(pk=member_id).first()
    if member is None:
        raise Http404("No such member.")
    return member


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def member_invite(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = InviteForm(request.POST)
    if form.is_valid():
        values = form.cleaned_data
        role, tier = role_and_tier(values["access"])
        try:
            invited = services.member_invite(
                workspace=membership.workspace,
                email=values["email"],
                name=values["name"],
                role=role,
                tier=tier,
                password=values["password"],
                by=signed_in_user(request),
            )
        except ValidationError as error:
            _add_member_errors(form, error)
        else:
            login_url = request.build_absolute_uri(reverse("login"))
            messages.success(
                request,
                f"Added {invited.user.email} as {invited.role_label}. They sign in at "
                f"{login_url} with their email and the initial password you chose (someone who "
                "already had an account keeps their own password).",
            )
            return _to("team", membership, f"member-{invited.pk}")
    return team_page(request, membership, invite_form=form, status=400)


def _add_member_errors(form: InviteForm | MemberRoleForm, error: ValidationError) -> None:
    """The services name role and tier apart; the forms choose them together, as "Role"."""
    if hasattr(error, "error_dict"):
        error = ValidationError(
            {
                ("access" if field in ("role", "tier") else field): messages
                for field, messages in error.message_dict.items()
            }
        )
    add_service_errors(form, error)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def member_role(request: HttpRequest, membership: Membership, member_id: int) -> HttpResponse:
    member = _member_or_404(membership, member_id)
    form = MemberRoleForm.for_member(member, request.POST)
    if form.is_valid():
        role, tier = role_and_tier(form.cleaned_data["access"])
        try:
            changed = services.member_role_set(
                membership=member,
                role=role,
                tier=tier,
                by=signed_in_user(request),
                expected=role_and_tier(form.cleaned_data["was"]),
            )
        except ValidationError as error:
            # Every refusal (the last admin, a change made meanwhile) is about the row as a whole.
            form.add_error(None, error.messages)
        else:
            messages.success(request, f"{changed.user.display_name} is now {changed.role_label}.")
            return _to("team", membership, f"member-{changed.pk}")
    return team_page(request, membership, role_form=form, status=400)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def member_remove(request: HttpRequest, membership: Membership, member_id: int) -> HttpResponse:
    member = _member_or_404(membership, member_id)
    name = member.user.display_name
    try:
        services.member_remove(membership=member, by=signed_in_user(request))
    except ValidationError as error:
        messages.error(request, f"{name} was not removed: {' '.join(error.messages)}")
        return _to("team", membership, f"member-{member.pk}")
    if member.pk == membership.pk:
        # They left this workspace: its pages are 404 to them now.
        return redirect("console:home")
    messages.success(
        request,
        f"Removed {name} from {membership.workspace.name}. Their account stays, for their other "
        "workspaces and the history of what they did.",
    )
    return _to("team", membership)


# --- queues --------------------------------------------------------------------------------


def _queue_or_404(membership: Membership, queue_id: int) -> Queue:
    queue = queues_of_workspace(workspace=membership.workspace).filter(pk=queue_id).first()
    if queue is None:
        raise Http404("No such queue.")
    return queue


def _queue_workers(membership: Membership) -> list[Membership]:
    """Who may work a queue: the workspace's admins and agents."""
    return [
        member
        for member in memberships_of_workspace(workspace=membership.workspace)
        if member.role in (Role.ADMIN, Role.AGENT)
    ]


@require_GET
@workspace_member_required()
def queues(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _queues_page(request, membership)


def _queues_page(
    request: HttpRequest,
    membership: Membership,
    form: QueueForm | None = None,
    status: int = 200,
) -> HttpResponse:
    if membership.is_admin and form is None:
        form = QueueForm(auto_id="new_queue_%s")
    listed = queues_of_workspace(workspace=membership.workspace).prefetch_related("members")
    return render(
        request,
        "team/queues.html",
        _context(membership, queues=listed, form=form, tab="queues"),
        status=status,
    )


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def queue_add(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = QueueForm(request.POST, auto_id="new_queue_%s")
    if form.is_valid():
        values = form.cleaned_data
        try:
            queue = routing_services.queue_save(
                workspace=membership.workspace,
                name=values["name"],
                tier=values["tier"],
                sla_wait_minutes=values["sla_wait_minutes"],
                by=signed_in_user(request),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, f"Added the queue “{queue.name}”. Choose who works it on its page."
            )
            return _to("team_queues", membership, f"queue-{queue.pk}")
    return _queues_page(request, membership, form, status=400)


@require_GET
@workspace_member_required()
def queue_detail(request: HttpRequest, membership: Membership, queue_id: int) -> HttpResponse:
    queue = _queue_or_404(membership, queue_id)
    return _queue_page(request, membership, queue)


def _queue_page(
    request: HttpRequest,
    membership: Membership,
    queue: Queue,
    *,
    form: QueueForm | None = None,
    members_form: QueueMembersForm | None = None,
    status: int = 200,
) -> HttpResponse:
    member_ids = sorted(queue.members.values_list("pk", flat=True))
    if membership.is_admin:
        form = form or QueueForm(
            initial={
                **routing_services.queue_snapshot(queue),
                "loaded": json.dumps(routing_services.queue_snapshot(queue)),
            }
        )
        members_form = members_form or QueueMembersForm(
            initial={"members": member_ids, "loaded": json.dumps(member_ids)},
            candidates=_queue_workers(membership),
        )
    return render(
        request,
        "team/queue.html",
        _context(
            membership,
            queue=queue,
            members=queue.members.order_by("email"),
            form=form,
            members_form=members_form,
            tab="queues",
        ),
        status=status,
    )


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def queue_edit(request: HttpRequest, membership: Membership, queue_id: int) -> HttpResponse:
    queue = _queue_or_404(membership, queue_id)
    form = QueueForm(request.POST)
    if form.is_valid() and form.cleaned_data["loaded"] is None:
        form.add_error(None, DAMAGED_FORM)
    if form.is_valid():
        values = form.cleaned_data
        try:
            queue = routing_services.queue_update(
                queue=queue,
                expected=values["loaded"],
                name=values["name"],
                tier=values["tier"],
                sla_wait_minutes=values["sla_wait_minutes"],
                by=signed_in_user(request),
            )
        except routing_services.QueueChangedError as error:
            form.add_error(None, error.messages)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Saved the queue “{queue.name}”.")
            return _to("team_queue", membership, queue_id=queue.pk)
    return _queue_page(request, membership, queue, form=form, status=400)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def queue_members(request: HttpRequest, membership: Membership, queue_id: int) -> HttpResponse:
    queue = _queue_or_404(membership, queue_id)
    workers = _queue_workers(membership)
    form = QueueMembersForm(request.POST, candidates=workers)
    if form.is_valid():
        chosen = set(form.cleaned_data["members"])
        try:
            routing_services.queue_members_set(
                queue=queue,
                users=[worker.user for worker in workers if worker.user_id in chosen],
                by=signed_in_user(request),
                expected_member_ids=form.cleaned_data["loaded"],
            )
        except routing_services.QueueChangedError as error:
            form.add_error(None, error.messages)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Saved who works the queue “{queue.name}”.")
            return _to("team_queue", membership, queue_id=queue.pk)
    return _queue_page(request, membership, queue, members_form=form, status=400)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def queue_delete(request: HttpRequest, membership: Membership, queue_id: int) -> HttpResponse:
    queue = _queue_or_404(membership, queue_id)
    name = queue.name
    try:
        routing_services.queue_delete(queue=queue, by=signed_in_user(request))
    except ValidationError as error:
        messages.error(request, f"The queue “{name}” was not deleted: {' '.join(error.messages)}")
        return _to("team_queue", membership, queue_id=queue_id)
    messages.success(request, f"Deleted the queue “{name}”.")
    return _to("team_queues", membership)
