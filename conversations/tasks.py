from celery import shared_task

from conversations.services import conversation_reply


@shared_task(ignore_result=True)
def conversation_reply_task(conversation_id: int, message_id: int) -> None:
    """The AI's reply to one customer message; safe to run twice (the service is idempotent)."""
    conversation_reply(conversation_id=conversation_id, message_id=message_id)
