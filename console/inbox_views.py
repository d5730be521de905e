"""The agents' inbox: the live list of conversations that need a human, and one conversation
with the AI's handoff brief, its transcript, and what an agent does (claim, reply, note,
resolve, hand back to the AI, transfer).

Thin views: they check access, validate input and call `conversations.services` (writes) and
`conversations.selectors` (reads). Every member sees the pages; admins and agents act. Live
updates come over the console's live socket (`WorkspaceLiveHtmlConsumer`), which renders
`templates/live/inbox.conversation.html` from the same partials as these pages.
"""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from console.access import ADMINS_AND_AGENTS, signed_in_user, workspace_member_required
from console.flow_display import OUTCOME_LABELS, REASON_LABELS, trace_view
from console.inbox_display import (
    ActionRequestView,
    action_request_view,
    brief_view,
    customer_details,
    inbox_row_of_conversation,
    transcript_item_of_message,
)
from console.inbox_forms import CANNED_REPLIES, MINE, UNASSIGNED, InboxFilterForm, ReplyForm
from console.knowledge_forms import add_service_errors
from console.models import Membership, Role, User
from console.selectors import memberships_of_workspace
from conversations import action_requests, services
from conversations.models import ActionRequest, Conversation, ConversationStatus
from conversations.selectors import (
    action_request_of_workspace,
    action_requests_of_conversation,
    conversation_of_workspace,
    handoff_latest,
    inbox_conversations,
    messages_after,
)
from routing.models import Queue
from routing.selectors import decision_trace_of_workspace, may_approve, queues_of_workspace

SECTION = "inbox"


def _can_act(membership: Membership) -> bool:
    return Role(membership.role) in ADMINS_AND_AGENTS


def _context(membership: Membership, **extra: object) -> dict[str, object]:
    return {
        "membership": membership,
        "workspace": membership.workspace,
        "current_section": SECTION,
        "can_act": _can_act(membership),
        **extra,
    }


def _wants_region(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)  # set by django-htmx's middleware
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


def _conversation_or_404(membership: Membership, conversation_id: int) -> Conversation:
    conversation = conversation_of_workspace(
        workspace=membership.workspace, conversation_id=conversation_id
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


@require_POST
@workspace_member_required(roles=ADMINS_AND_AGENTS)
def conversation_hand_back(
    request: HttpRequest, membership: Membership, conversation_id: int
) -> HttpResponse:
    conversation = _conversation_or_404(membership, conversation_id)
    try:
        services.conversation_hand_back(conversation=conversation, agent=signed_in_user(request))
    except (services.ConversationStateError, PermissionDenied) as error:
        return _refused(request, membership, conversation, error=error)
    return _back_to_conversation(membership, conversation)


@require_POST
@workspace_member_required(roles=ADMINS_AND_AGENTS)
def conversation_transfer(
    request: HttpRequest, membership: Membership, conversation_id: int
) -> HttpResponse:
    conversation = _conversation_or_404(membership, conversation_id)
    queue = _posted_queue(request, membership)
    if queue is None:
        return _refused(
            request, membership, conversation, error=ValueError("Choose a queue to transfer to.")
        )
    try:
        services.conversation_transfer(
            conversation=conversation, agent=signed_in_user(request), queue=queue
        )
    except (services.ConversationStateError, PermissionDenied) as error:
        return _refused(request, membership, conversation, error=error)
    return _back_to_conversation(membership, conversation)


@require_POST
@workspace_member_required(roles=ADMINS_AND_AGENTS)
def conversation_assign(
    request: HttpRequest, membership: Membership, conversation_id: int
) -> HttpResponse:
    conversation = _conversation_or_404(membership, conversation_id)
    assignee = _posted_assignee(request, membership)
    if assignee is None:
        return _refused(
            request, membership, conversation, error=ValueError("Choose an agent to assign.")
        )
    try:
        services.conversation_assign(
            conversation=conversation, by=signed_in_user(request), assignee=assignee
        )
    except ValidationError as error:
        return _refused(request, membership, conversation, error=ValueError(*error.messages))
    except (services.ConversationStateError, PermissionDenied) as error:
        return _refused(request, membership, conversation, error=error)
    return _back_to_conversation(membership, conversation)


@require_POST
@workspace_member_required(roles=ADMINS_AND_AGENTS)
def conversation_reopen(
    request: HttpRequest, membership: Membership, conversation_id: int
) -> HttpResponse:
    conversation = _conversation_or_404(membership, conversation_id)
    try:
        services.conversation_reopen(conversation=conversation, agent=signed_in_user(request))
    except (services.ConversationStateError, PermissionDenied) as error:
        return _refused(request, membership, conversation, error=error)
    return _back_to_conversation(membership, conversation)


def _posted_assignee(request: HttpRequest, membership: Membership) -> User | None:
    user_id = request.POST.get("assignee", "")
    if not user_id.isdigit():
        return None
    return next((user for user in _assignable(membership) if user.pk == int(user_id)), None)


def _assignable(membership: Membership) -> list[User]:
    """The workspace's agents and admins: who a conversation can be given to."""
    return [
        member.user
        for member in memberships_of_workspace(workspace=membership.workspace)
        if Role(member.role) in ADMINS_AND_AGENTS and member.user.is_active
    ]


def _posted_queue(request: HttpRequest, membership: Membership) -> Queue | None:
    queue_id = request.POST.get("queue", "")
    if not queue_id.isdigit():
        return None
    return queues_of_workspace(workspace=membership.workspace).filter(pk=int(queue_id)).first()


@require_GET
@workspace_member_required()
def inbox(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    form = InboxFilterForm(request.GET, queues=list(queues_of_workspace(workspace=workspace)))
    form.is_valid()  # an invalid filter shows its error and is ignored; the others apply
    values = form.cleaned_data
    conversations = inbox_conversations(
        workspace=workspace,
        status=values.get("status") or None,
        queue_id=values.get("queue"),
        priority=values.get("priority") or None,
        assignee=signed_in_user(request) if values.get("assignee") == MINE else None,
        unassigned=values.get("assignee") == UNASSIGNED,
        language=values.get("language") or None,
    )
    rows = [inbox_row_of_conversation(conversation) for conversation in conversations]
    context = _context(
        membership,
        form=form,
        rows=rows,
        filtered=any(values.get(name) for name in form.fields),
        priorities=("urgent", "high", "normal"),
    )
    template = "inbox/_list.html" if _wants_region(request) else "inbox/inbox.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))  # the same URL answers page or region
    return response


@require_GET
@workspace_member_required()
def conversation_detail(
    request: HttpRequest, membership: Membership, conversation_id: int
) -> HttpResponse:
    conversation = _conversation_or_404(membership, conversation_id)
    form = ReplyForm() if _can_act(membership) else None
    return render(
        request, "inbox/conversation.html", _conversation_context(membership, conversation, form)
    )


def _conversation_context(
    membership: Membership,
    conversation: Conversation,
    form: ReplyForm | None,
    action_errors: list[str] | None = None,
) -> dict[str, object]:
    handoff = handoff_latest(conversation=conversation)
    user = membership.user
    return _context(
        membership,
        conversation=conversation,
        row=inbox_row_of_conversation(conversation),
        brief=brief_view(handoff) if handoff else None,
        transcript=[
            transcript_item_of_message(message)
            for message in messages_after(conversation=conversation)
        ],
        customer=customer_details(conversation.customer),
        can_claim=conversation.assignee_id is None
        and conversation.status != ConversationStatus.RESOLVED,
        is_mine=conversation.assignee_id == user.pk,
        is_resolved=conversation.status == ConversationStatus.RESOLVED,
        can_hand_back=conversation.is_human_owned,
        assignees=[user for user in _assignable(membership) if user.pk != conversation.assignee_id],
        transfer_queues=[
            queue
            for queue in queues_of_workspace(workspace=membership.workspace)
            if queue.pk != conversation.queue_id
        ],
        form=form,
        canned_replies=CANNED_REPLIES,
        action_errors=action_errors or [],
        action_requests=_action_request_views(membership, conversation),
    )


def _action_request_views(
    membership: Membership, conversation: Conversation
) -> list[ActionRequestView]:
    workspace = membership.workspace
    views: list[ActionRequestView] = []
    for request in action_requests_of_conversation(conversation=conversation):
        risk = request.action.risk
        views.append(
            action_request_view(
                request,
                can_decide=may_approve(membership=membership, risk=risk, workspace=workspace),
                approvers=action_requests.approvers_label(workspace=workspace, risk=risk),
            )
        )
    return views


def _back_to_conversation(membership: Membership, conversation: Conversation) -> HttpResponse:
    return redirect(
        "console:inbox_conversation",
        workspace_slug=membership.workspace.slug,
        conversation_id=conversation.pk,
    )


def _refused(
    request: HttpRequest,
    membership: Membership,
    conversation: Conversation,
    *,
    form: ReplyForm | None = None,
    error: Exception | None = None,
) -> HttpResponse:
    """The conversation page again, as it is now, with why the action was not done: a reply's
    errors on its form (keeping what the agent wrote), any other refusal on top."""
    context = _conversation_context(
        membership,
        _conversation_or_404(membership, conversation.pk),
        form or ReplyForm(),
        [str(error)] if error is not None else [],
    )
    return render(request, "inbox/conversation.html", context, status=400)


@require_POST
@workspace_member_required(roles=ADMINS_AND_AGENTS)
def conversation_claim(
    request: HttpRequest, membership: Membership, conversation_id: int
) -> HttpResponse:
    conversation = _conversation_or_404(membership, conversation_id)
    try:
        services.conversation_claim(conversation=conversation, agent=signed_in_user(request))
    except (services.ConversationStateError, PermissionDenied) as error:
        return _refused(request, membership, conversation, error=error)
    return _back_to_conversation(membership, conversation)


@require_POST
@workspace_member_required(roles=ADMINS_AND_AGENTS)
def conversation_reply(
    request: HttpRequest, membership: Membership, conversation_id: int
) -> HttpResponse:
    conversation = _conversation_or_404(membership, conversation_id)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _refused(request, membership, conversation, form=form)
    try:
        services.agent_message_post(
            conversation=conversation,
            agent=signed_in_user(request),
            text=form.cleaned_data["text"],
            internal=form.cleaned_data["internal"],
        )
    except ValidationError as error:
        add_service_errors(form, error)
        return _refused(request, membership, conversation, form=form)
    except (services.ConversationStateError, PermissionDenied) as error:
        form.add_error(None, str(error))
        return _refused(request, membership, conversation, form=form)
    return _back_to_conversation(membership, conversation)


@require_POST
@workspace_member_required(roles=ADMINS_AND_AGENTS)
def conversation_resolve(
    request: HttpRequest, membership: Membership, conversation_id: int
) -> HttpResponse:
    conversation = _conversation_or_404(membership, conversation_id)
    try:
        services.conversation_resolve(conversation=conversation, by=signed_in_user(request))
    except PermissionDenied as error:
        return _refused(request, membership, conversation, error=error)
    return _back_to_conversation(membership, conversation)


@require_GET
@workspace_member_required()
def conversation_trace(
    request: HttpRequest, membership: Membership, conversation_id: int, trace_id: int
) -> HttpResponse:
    """Why the AI said what it said: loaded on demand by the "Why?" disclosure (htmx), or as a
    page of its own without JavaScript."""
    conversation = _conversation_or_404(membership, conversation_id)
    record = decision_trace_of_workspace(workspace=membership.workspace, trace_id=trace_id)
    if record is None:
        raise Http404("No such trace.")
    context = _context(
        membership,
        conversation=conversation,
        record=record,
        outcome_label=OUTCOME_LABELS.get(record.outcome, record.outcome),
        reason_label=REASON_LABELS.get(record.reason, record.reason),
        trace=trace_view(record.trace),
    )
    template = "inbox/_trace.html" if _wants_region(request) else "inbox/trace.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- AI action requests ----------------------------------------------------------------------


def _action_request_or_404(
    membership: Membership, conversation: Conversation, request_id: int
) -> ActionRequest:
    request = action_request_of_workspace(workspace=membership.workspace, request_id=request_id)
    if request is None or request.conversation_id != conversation.pk:
        raise Http404("No such action request.")
    return request


def _action_requests_region(
    request: HttpRequest,
    membership: Membership,
    conversation: Conversation,
    error: str = "",
) -> HttpResponse:
    """The action requests panel (htmx), or the whole page without JavaScript. Whether the
    member may decide is the service's to say, not the role's: viewers may approve read
    actions where the workspace allows it."""
    if not _wants_region(request):
        if error:
            return _refused(request, membership, conversation, error=ValueError(error))
        return _back_to_conversation(membership, conversation)
    context = _context(
        membership,
        conversation=conversation,
        action_requests=_action_request_views(membership, conversation),
        action_request_error=error,
    )
    response = render(request, "inbox/_action_requests.html", context, status=400 if error else 200)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _parameters_posted(request: HttpRequest) -> dict[str, object] | None:
    text = request.POST.get("parameters", "").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise ValidationError('Write the parameters as JSON, e.g. {"amount": 20}.') from None
    if not isinstance(value, dict):
        raise ValidationError('Write the parameters as a JSON object, e.g. {"amount": 20}.')
    return value


@require_POST
@workspace_member_required()
def action_request_approve(
    request: HttpRequest, membership: Membership, conversation_id: int, request_id: int
) -> HttpResponse:
    conversation = _conversation_or_404(membership, conversation_id)
    action_request = _action_request_or_404(membership, conversation, request_id)
    try:
        action_requests.action_request_approve(
            request=action_request,
            by=signed_in_user(request),
            parameters=_parameters_posted(request),
        )
    except ValidationError as error:
        problems = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
        text = "; ".join(
            f"{name}: {' '.join(messages)}" if name and name != "__all__" else " ".join(messages)
            for name, messages in problems.items()
        )
        return _action_requests_region(request, membership, conversation, text)
    except (PermissionDenied, action_requests.ActionRequestStateError) as error:
        return _action_requests_region(request, membership, conversation, str(error))
    return _action_requests_region(request, membership, conversation)


@require_POST
@workspace_member_required()
def action_request_reject(
    request: HttpRequest, membership: Membership, conversation_id: int, request_id: int
) -> HttpResponse:
    conversation = _conversation_or_404(membership, conversation_id)
    action_request = _action_request_or_404(membership, conversation, request_id)
    try:
        action_requests.action_request_reject(
            request=action_request, by=signed_in_user(request), note=request.POST.get("note", "")
        )
    except (PermissionDenied, action_requests.ActionRequestStateError) as error:
        return _action_requests_region(request, membership, conversation, str(error))
    return _action_requests_region(request, membership, conversation)
