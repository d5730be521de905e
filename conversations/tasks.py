from typing import Any

from celery import shared_task

from conversations.action_requests import action_request_outcome_record, action_requests_expire
from conversations.services import conversation_reply
from conversations.sla import conversations_sla_enforce


@shared_task(ignore_result=True)
def conversation_reply_task(conversation_id: int, message_id: int) -> None:
    """The AI's reply to one customer message; safe to run twice (the service is idempotent)."""
    conversation_reply(conversation_id=conversation_id, message_id=message_id)


@shared_task(ignore_result=True)
def conversations_sla_enforce_task() -> None:
    """Run by Celery beat every minute (CELERY_BEAT_SCHEDULE): the queues' SLA timers."""
    conversations_sla_enforce()


@shared_task(ignore_result=True)
def action_request_outcome_task(result: dict[str, Any], request_id: int) -> None:
    """The end of an action request's chain: `result` is routing's webhook task's last try."""
    action_request_outcome_record(request_id=request_id, result=result)


@shared_task(ignore_result=True)
def action_requests_expire_task() -> None:
    """For Celery beat: expire the action requests nobody decided on in time."""
    action_requests_expire()
