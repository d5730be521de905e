"""Writes of AI action requests: asking for an action in a conversation, approving, rejecting,
expiring, and running it through the company's signed webhook.

The rule this module exists to keep: an action runs only when its policy lets it run by itself,
or a person whom the workspace allows (routing.selectors.may_approve) approved it; and a
destructive action never runs by itself, whatever the action's row says. The policy is applied
here, not by whoever asks (the offline matcher, a model's tool call, an agent, the API).

Lifecycle (conversations.models.ActionRequestStatus): requested -> suggested / pending /
approved -> rejected / expired, or approved -> executed / failed. Every step is an
ActionRequestEvent with who took it. The customer is told when a request waits for the team and
how it ended (system event lines in the chat, replayed on resume), and their chat gets a typed
`{"type": "action", "action": {"id", "name", "status"}}` event at each step they can see
(pending, approved, and then executed / failed, or rejected / expired); a suggestion is for
agents only, so the customer hears of it only if an agent approves it. Agents get an
`inbox.conversation` event (change "action_request") on every step. Broadcasts and the webhook
wait for the commit.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import chain
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from console.access import ADMINS_AND_AGENTS
from console.models import Membership, Role, User, Workspace
from conversations.action_matching import action_match_detail
from conversations.models import (
    ActionRequest,
    ActionRequestEvent,
    ActionRequestStatus,
    ActorKind,
    Conversation,
    Message,
    MessageKind,
    Sender,
)
from conversations.realtime import (
    conversation_event_broadcast,
    inbox_broadcast,
    message_broadcast,
)
from conversations.serializers import action_request_json, message_json
from routing.action_parameters import parameters_validate
from routing.actions import action_parameters_validate
from routing.models import Action, ActionPolicy, ActionRisk
from routing.selectors import action_approvers, approver_spec, may_approve

logger = logging.getLogger(__name__)

DEFAULT_EXPIRY = timedelta(hours=24)
NOTE_MAX_LENGTH = 500
ERROR_MAX_LENGTH = 200
REQUIRED_MESSAGE = "This parameter is required."
EMAIL_PARAMETER_PATTERN = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"

# How the customer hears of each built-in action: (what they asked for, what happened). Other
# actions read "your request (<name>)" and "<name>".
CUSTOMER_WORDING: dict[str, tuple[str, str]] = {
    "send_password_reset": ("password reset", "we sent a reset link to the address on file"),
    "export_data_csv": ("data export", "your export is on its way to your inbox"),
    "add_seat": ("request for more seats", "the seats were added"),
    "issue_refund": ("refund request", "your refund was issued"),
    "cancel_subscription": ("cancellation request", "your subscription was cancelled"),
    "delete_account": ("account deletion request", "your account was deleted"),
}
APPROVER_LABELS = {
    "admin": "admins",
    "agent:2": "tier-2 agents",
    "agent:1": "tier-1 agents",
    "viewer": "viewers",
}
# The steps the customer's chat gets an "action" event for. A request the customer was never
# told of (a suggestion) is announced only once approved, and its rejection or expiry not at all.
CUSTOMER_ANNOUNCED_STATUSES = (
    ActionRequestStatus.PENDING,
    ActionRequestStatus.APPROVED,
    ActionRequestStatus.EXECUTED,
    ActionRequestStatus.FAILED,
)
CUSTOMER_ANNOUNCED_ENDINGS = (ActionRequestStatus.REJECTED, ActionRequestStatus.EXPIRED)


class ActionRequestStateError(Exception):
    """The request is no longer open: it was decided, expired or ran already."""


# --- asking ----------------------------------------------------------------------------------


@transaction.atomic
def action_request_create(
    *,
    conversation: Conversation | None,
    action: Action,
    parameters: Any,
    requested_by_ai: bool,
    requested_by: User | None = None,
) -> ActionRequest:
    """Ask for `action`, for the conversation's customer. Who asks: the AI (`requested_by_ai`),
    a signed-in agent or admin (`requested_by`), or else the workspace's API key.

    Refused (ValidationError on "action") when the action is disabled or its policy is never.
    The AI may leave required parameters out (it cannot always tell an amount); they are listed
    in `missing_parameters` and the request waits for an approver to fill them in. A person or
    an API client must give them all. Bad values are refused for everyone.
    """
    if conversation is not None and conversation.workspace_id != action.workspace_id:
        raise ValidationError({"action": "No such action in this workspace."})
    _usable_check(action)
    if requested_by is not None:
        _member_check(action.workspace_id, requested_by)
    cleaned, missing = _parameters_checked(action, parameters, partial_allowed=requested_by_ai)
    request = ActionRequest.objects.create(
        workspace_id=action.workspace_id,
        conversation=conversation,
        action=action,
        parameters=cleaned,
        missing_parameters=missing,
        requested_by_ai=requested_by_ai,
        requested_by=requested_by,
        status=ActionRequestStatus.REQUESTED,
        idempotency_key=uuid.uuid4(),
        expires_at=timezone.now() + DEFAULT_EXPIRY,
    )
    requester_kind = _requester_kind(requested_by_ai, requested_by)
    _event_record(request, ActionRequestStatus.REQUESTED, kind=requester_kind, actor=requested_by)
    status, note = _first_status(request, requester_kind)
    _transition(request, status, kind=ActorKind.SYSTEM, note=note)
    if status == ActionRequestStatus.APPROVED:
        _execution_schedule(request)
    return request


def _usable_check(action: Action) -> None:
    if not action.enabled:
        raise ValidationError({"action": f"{action.name} is disabled: an admin must enable it."})
    if action.policy == ActionPolicy.NEVER:
        raise ValidationError({"action": f"The policy of {action.name} is never: nobody asks."})


def _parameters_checked(
    action: Action, parameters: Any, *, partial_allowed: bool
) -> tuple[dict[str, Any], list[str]]:
    """The valid parameters and the required ones missing (only when `partial_allowed`)."""
    try:
        return action_parameters_validate(action, parameters), []
    except ValidationError as error:
        if not partial_allowed or not hasattr(error, "error_dict"):
            raise
        problems = error.message_dict
        missing = [name for name, messages in problems.items() if messages == [REQUIRED_MESSAGE]]
        if len(missing) != len(problems):
            raise
    # Only required ones were missing: check what was given against the schema without them.
    schema = {**(action.parameters or {}), "required": []}
    return parameters_validate(schema, parameters), sorted(missing)


def _requester_kind(requested_by_ai: bool, requested_by: User | None) -> ActorKind:
    if requested_by_ai:
        return ActorKind.AI
    return ActorKind.AGENT if requested_by is not None else ActorKind.API


def _first_status(
    request: ActionRequest, requester_kind: ActorKind
) -> tuple[ActionRequestStatus, str]:
    """Where the policy puts a new request, and why, for the audit log."""
    action = request.action
    if action.policy == ActionPolicy.SUGGEST and requester_kind == ActorKind.AI:
        return ActionRequestStatus.SUGGESTED, "Policy suggest: an agent decides."
    if action.policy != ActionPolicy.AUTONOMOUS:
        return ActionRequestStatus.PENDING, f"Policy {action.policy}: waits for an approver."
    # Checked here as well as on the action itself: a row written around routing.actions (or a
    # future bug there) must still not let a destructive action run without a person.
    if action.risk == ActionRisk.DESTRUCTIVE:
        return ActionRequestStatus.PENDING, "Destructive: always waits for an approver."
    if request.missing_parameters:
        missing = ", ".join(request.missing_parameters)
        return ActionRequestStatus.PENDING, f"Waits for an agent to give {missing}."
    return ActionRequestStatus.APPROVED, "Policy autonomous: runs by itself."


# --- deciding --------------------------------------------------------------------------------


@transaction.atomic
def action_request_approve(
    *, request: ActionRequest, by: User, parameters: Any = None
) -> ActionRequest:
    """`by` approves the open request; it runs after the commit. `parameters` fill in or
    correct the request's (merged over them, then checked in full: all required ones given).

    PermissionDenied unless routing.selectors.may_approve allows `by` for the action's risk;
    ActionRequestStateError when the request is no longer open or has expired."""
    locked = _locked(request)
    membership = _approver_check(locked, by, doing="approve")
    _open_check(locked, doing="approved")
    if not locked.action.enabled:
        raise ActionRequestStateError(f"{locked.action.name} was disabled since it was asked for.")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise ValidationError({"parameters": "Send the parameters as an object."})
    given = parameters or {}
    locked.parameters = action_parameters_validate(locked.action, {**locked.parameters, **given})
    locked.missing_parameters = []
    locked.save(update_fields=["parameters", "missing_parameters", "updated_at"])
    _transition(
        locked,
        ActionRequestStatus.APPROVED,
        kind=ActorKind.AGENT,
        actor=by,
        role=approver_spec(membership),
    )
    _execution_schedule(locked)
    return locked


@transaction.atomic
def action_request_reject(*, request: ActionRequest, by: User, note: str = "") -> ActionRequest:
    """`by` turns the open request down; the note is for the audit log, not the customer."""
    locked = _locked(request)
    membership = _approver_check(locked, by, doing="reject")
    _open_check(locked, doing="rejected")
    told = locked.status == ActionRequestStatus.PENDING  # a suggestion was never announced
    _transition(
        locked,
        ActionRequestStatus.REJECTED,
        kind=ActorKind.AGENT,
        actor=by,
        role=approver_spec(membership),
        note=(note or "").strip()[:NOTE_MAX_LENGTH],
        customer_text=_customer_text(locked, "rejected") if told else "",
    )
    return locked


def action_requests_expire(*, now: datetime | None = None) -> int:
    """Expire the open requests nobody decided on by their `expires_at`; returns how many.
    For Celery beat. Each in its own transaction, skipping one that a person is deciding on."""
    now = now or timezone.now()
    due = ActionRequest.objects.filter(
        status__in=(ActionRequestStatus.PENDING, ActionRequestStatus.SUGGESTED),
        expires_at__lte=now,
    ).values_list("pk", flat=True)
    return sum(_expire_one(request_id, now) for request_id in list(due))


@transaction.atomic
def _expire_one(request_id: int, now: datetime) -> bool:
    locked = (
        ActionRequest.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("action", "conversation__customer")
        .filter(pk=request_id, expires_at__lte=now)
        .first()
    )
    if locked is None or not locked.is_open:
        return False
    told = locked.status == ActionRequestStatus.PENDING
    _transition(
        locked,
        ActionRequestStatus.EXPIRED,
        kind=ActorKind.SYSTEM,
        note="Nobody decided in time.",
        customer_text=_customer_text(locked, "expired") if told else "",
    )
    return True


# --- running ---------------------------------------------------------------------------------


@transaction.atomic
def action_request_execute(request_id: int) -> bool:
    """Send the approved request's signed webhook (routing.tasks.action_webhook_task, retried
    with backoff, the same idempotency key each time); its outcome is then recorded by
    `action_request_outcome_record`. Returns whether the call was queued: anything but an
    approved request, with its approval on record, is refused and logged."""
    locked = (
        ActionRequest.objects.select_for_update(of=("self",))
        .select_related("action")
        .filter(pk=request_id)
        .first()
    )
    if locked is None or locked.status != ActionRequestStatus.APPROVED:
        return False
    if not _approval_on_record(locked):
        logger.error("Action request %s is approved without an approval on record", locked.pk)
        return False
    transaction.on_commit(
        partial(
            _webhook_send,
            request_id=locked.pk,
            action_id=locked.action_id,
            payload=_webhook_payload(locked),
            idempotency_key=str(locked.idempotency_key),
        )
    )
    return True


def _approval_on_record(request: ActionRequest) -> bool:
    """The approved event that let this request run: by policy (never for a destructive action)
    or by a person."""
    approvals = request.events.filter(status=ActionRequestStatus.APPROVED)
    if request.action.risk == ActionRisk.DESTRUCTIVE:
        approvals = approvals.filter(actor_kind=ActorKind.AGENT, actor__isnull=False)
    return approvals.exists()


def _execution_schedule(request: ActionRequest) -> None:
    transaction.on_commit(partial(action_request_execute, request.pk), robust=True)


def _webhook_send(
    *, request_id: int, action_id: int, payload: dict[str, Any], idempotency_key: str
) -> None:
    # Imported here: the task modules import the services.
    from conversations.tasks import action_request_outcome_task
    from routing.tasks import action_webhook_task

    # A chain: the webhook task retries on its own, then hands its last result to the recorder.
    chain(
        action_webhook_task.s(action_id, payload, idempotency_key),
        action_request_outcome_task.s(request_id),
    ).delay()


def _webhook_payload(request: ActionRequest) -> dict[str, Any]:
    """What the backend gets as `data`. The customer only when the company vouched for them:
    a model or an anonymous chat must never choose whose account is changed."""
    conversation = request.conversation
    customer = conversation.customer if conversation is not None else None
    verified = customer is not None and customer.verified
    return {
        "request_id": request.pk,
        "conversation_id": request.conversation_id,
        "parameters": request.parameters,
        "customer": (
            {"external_id": customer.external_id, "email": customer.email, "name": customer.name}
            if verified and customer is not None
            else None
        ),
    }


@transaction.atomic
def action_request_outcome_record(*, request_id: int, result: Mapping[str, Any]) -> bool:
    """Mark the approved request executed (the backend said 2xx) or failed, from the webhook
    task's result; returns whether it was recorded (not when recorded already)."""
    locked = _locked_by_id(request_id)
    if locked is None or locked.status != ActionRequestStatus.APPROVED:
        return False
    ok = bool(result.get("ok"))
    attempts = int(result.get("attempts") or 1)
    error = str(result.get("error") or "")
    locked.result = {
        "ok": ok,
        "status": result.get("status"),
        "error": error,
        "reply": result.get("reply"),
        "attempts": attempts,
    }
    locked.error = "" if ok else error[:ERROR_MAX_LENGTH]
    locked.save(update_fields=["result", "error", "updated_at"])
    answer = f"HTTP {result.get('status')}" if result.get("status") else error
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    _transition(
        locked,
        ActionRequestStatus.EXECUTED if ok else ActionRequestStatus.FAILED,
        kind=ActorKind.SYSTEM,
        note=f"{answer} after {tries}."[:NOTE_MAX_LENGTH],
        customer_text=_customer_text(locked, "executed" if ok else "failed"),
    )
    return True


# --- the offline flow's proposal -------------------------------------------------------------


def action_request_propose(
    *, conversation: Conversation, message: Message, proposed: Mapping[str, Any] | None = None
) -> ActionRequest | None:
    """Called by the reply job after it stored the AI's answer or handoff. `proposed` is the
    action the flow's LLM asked for by a tool call (routing.pipeline.MessageDecision.action_call,
    {"key": ..., "parameters": {...}}): request it as the AI with the model's parameters.
    Without one, when the customer's message matches an action's example phrasings, request that
    action with the parameters the message gives plainly (an email address, a listed value; the
    message as the reason). Either way action_request_create applies the action's policy and
    checks the parameters as for any request made by the AI (left out: the agent fills them in;
    bad: refused). Never fails the reply: a refused proposal is logged."""
    if proposed is not None:
        # The model's output: anything may be in it, so nothing is trusted but the lookup.
        key = proposed.get("key") if isinstance(proposed, Mapping) else None
        action = (
            Action.objects.filter(workspace_id=conversation.workspace_id, key=key).first()
            if isinstance(key, str)
            else None
        )
        if action is None:
            logger.info("Proposed action %.60r is not an action of this workspace", key)
            return None
        parameters = proposed.get("parameters", {})
    else:
        match = action_match_detail(workspace=conversation.workspace, text=message.text)
        if match is None:
            return None
        action, parameters = match.action, parameters_from_text(match.action, message.text)
    try:
        return action_request_create(
            conversation=conversation,
            action=action,
            parameters=parameters,
            requested_by_ai=True,
        )
    except ValidationError as error:
        logger.info("Proposed action %s refused: %s", action.key, error.messages)
        return None


def parameters_from_text(action: Action, text: str) -> dict[str, Any]:
    """The parameters a message states unambiguously. Deliberately timid: a wrong amount is
    worse than none, since an approver fills in what is missing."""
    found: dict[str, Any] = {}
    properties: dict[str, dict[str, Any]] = (action.parameters or {}).get("properties", {})
    for name, spec in properties.items():
        if spec.get("type") != "string":
            continue
        if "enum" in spec:
            named = [value for value in spec["enum"] if _says(text, value)]
            if len(named) == 1:
                found[name] = named[0]
        elif name == "email":
            emails = re.findall(EMAIL_PARAMETER_PATTERN, text)
            if len(emails) == 1:
                found[name] = emails[0]
        elif name == "reason":
            found[name] = text[: spec.get("maxLength", NOTE_MAX_LENGTH)]
    return found


def _says(text: str, value: str) -> bool:
    return re.search(rf"\b{re.escape(value)}\b", text, re.IGNORECASE) is not None


# --- shared steps ----------------------------------------------------------------------------


def approvers_label(*, workspace: Workspace, risk: str) -> str:
    """Who may approve actions of `risk`, for people: "admins and tier-2 agents"."""
    specs = action_approvers(workspace=workspace, risk=risk)
    labels = [APPROVER_LABELS.get(spec, spec) for spec in specs]
    return " and ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 1 else labels)


def _approver_check(request: ActionRequest, by: User, *, doing: str) -> Membership:
    membership = (
        Membership.objects.select_related("workspace")
        .filter(workspace_id=request.workspace_id, user=by, user__is_active=True)
        .first()
    )
    risk = request.action.risk
    if membership is None or not may_approve(
        membership=membership, risk=risk, workspace=membership.workspace
    ):
        who = approvers_label(workspace=request.workspace, risk=risk)
        raise PermissionDenied(f"Only {who} may {doing} {risk} actions in this workspace.")
    return membership


def _open_check(request: ActionRequest, *, doing: str) -> None:
    if not request.is_open:
        raise ActionRequestStateError(
            f"This request is {request.get_status_display().lower()}: it can no longer be {doing}."
        )
    if request.expires_at <= timezone.now():
        raise ActionRequestStateError(f"This request expired: it can no longer be {doing}.")


def _member_check(workspace_id: int, user: User) -> None:
    role = (
        Membership.objects.filter(workspace_id=workspace_id, user=user, user__is_active=True)
        .values_list("role", flat=True)
        .first()
    )
    if role is None or Role(role) not in ADMINS_AND_AGENTS:
        raise PermissionDenied("Only agents and admins of this workspace can ask for actions.")


def _locked(request: ActionRequest) -> ActionRequest:
    locked = _locked_by_id(request.pk)
    assert locked is not None  # requests are deleted only with their workspace
    return locked


def _locked_by_id(request_id: int) -> ActionRequest | None:
    return (
        ActionRequest.objects.select_for_update(of=("self",))
        .select_related("action", "workspace", "conversation__customer", "conversation__workspace")
        .filter(pk=request_id)
        .first()
    )


def _transition(
    request: ActionRequest,
    status: ActionRequestStatus,
    *,
    kind: ActorKind,
    actor: User | None = None,
    role: str = "",
    note: str = "",
    customer_text: str | None = None,
) -> None:
    """Move the (locked) request to `status`, log it, tell the customer (`customer_text`, or
    by default what a pending request's customer reads) and the agents, after commit."""
    previous = request.status
    request.status = status
    request.save(update_fields=["status", "updated_at"])
    _event_record(request, status, kind=kind, actor=actor, role=role, note=note)
    if customer_text is None:
        customer_text = _customer_text(request, "pending") if status == "pending" else ""
    message = _customer_tell(request, customer_text) if customer_text else None
    if _customer_sees(status, previous=previous):
        _customer_action_broadcast(request)
    if request.conversation is not None:
        details: dict[str, Any] = {"action_request": action_request_json(request)}
        if message is not None:
            details["message"] = message_json(message)
        inbox_broadcast(request.conversation, change="action_request", **details)


def _event_record(
    request: ActionRequest,
    status: ActionRequestStatus,
    *,
    kind: ActorKind,
    actor: User | None = None,
    role: str = "",
    note: str = "",
) -> ActionRequestEvent:
    return ActionRequestEvent.objects.create(
        request=request, status=status, actor=actor, actor_kind=kind, actor_role=role, note=note
    )


def _customer_tell(request: ActionRequest, text: str) -> Message | None:
    conversation = request.conversation
    if conversation is None:
        return None
    message = Message.objects.create(
        conversation=conversation,
        workspace_id=conversation.workspace_id,
        sender=Sender.SYSTEM,
        kind=MessageKind.EVENT,
        text=text,
    )
    message_broadcast(message, to_inbox=False)  # the agents hear of it in the inbox event
    return message


def _customer_sees(status: str, *, previous: str) -> bool:
    if status in CUSTOMER_ANNOUNCED_STATUSES:
        return True
    return status in CUSTOMER_ANNOUNCED_ENDINGS and previous == ActionRequestStatus.PENDING


def _customer_action_broadcast(request: ActionRequest) -> None:
    """The chat's typed event for the request's new status. Only what the customer may know:
    never the parameters (the AI may have filled some in from other messages, an agent may have
    corrected them), notes, approvers or the webhook's answer."""
    if request.conversation_id is None:
        return
    conversation_event_broadcast(
        conversation_id=request.conversation_id,
        event={
            "type": "action",
            "action": {
                "id": request.pk,
                "name": customer_action_name(request.action),
                "status": str(request.status),
            },
        },
    )


def customer_action_name(action: Action) -> str:
    """What the customer's chat calls the action: "Refund request", or an admin's own action's
    name."""
    asked = CUSTOMER_WORDING.get(action.key, (action.name, ""))[0]
    return asked[:1].upper() + asked[1:]


def _customer_text(request: ActionRequest, moment: str) -> str:
    action = request.action
    asked, done = CUSTOMER_WORDING.get(action.key, (f"request ({action.name})", action.name))
    texts = {
        "pending": f"Your {asked} is waiting for approval by our team.",
        "executed": f"Done: {done}.",
        "failed": f"We could not complete your {asked}. Our team has been told and will follow up.",
        "rejected": f"Our team could not approve your {asked}. An agent can tell you more.",
        "expired": f"Your {asked} was not approved in time. Please ask again if you still need it.",
    }
    return texts[moment]
