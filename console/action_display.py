"""How the Actions pages show one request of the log: who asked, who decided, its steps."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from console.inbox_display import ActionRequestStep, action_request_view
from conversations.models import ActionRequest, ActionRequestStatus

# The statuses that record a person's (or the policy's) decision about a request.
DECISION_STATUSES = (
    ActionRequestStatus.APPROVED,
    ActionRequestStatus.REJECTED,
    ActionRequestStatus.EXPIRED,
)


@dataclass(frozen=True)
class LogRow:
    id: int
    created_at: datetime
    action_name: str
    action_key: str
    risk: str
    status: str
    status_label: str
    requester: str
    decided_by: str
    parameters_json: str
    conversation_id: int | None
    steps: list[ActionRequestStep]


def log_row(request: ActionRequest) -> LogRow:
    view = action_request_view(request, can_decide=False, approvers="")
    decisions = [
        step
        for step, event in zip(view.steps, request.events.all(), strict=True)
        if event.status in DECISION_STATUSES
    ]
    return LogRow(
        id=request.pk,
        created_at=request.created_at,
        action_name=request.action.name,
        action_key=request.action.key,
        risk=request.action.get_risk_display(),
        status=request.status,
        status_label=request.get_status_display(),
        requester=_requester(request),
        decided_by=decisions[-1].who if decisions else "",
        parameters_json=json.dumps(request.parameters, indent=2, ensure_ascii=False),
        conversation_id=request.conversation_id,
        steps=view.steps,
    )


def _requester(request: ActionRequest) -> str:
    if request.requested_by_ai:
        return "The AI"
    if request.requested_by is not None:
        return request.requested_by.display_name
    return "An API key"
