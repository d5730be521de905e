"""Background jobs of the routing app. Thin: the work is in routing.actions."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval

from routing.actions import action_webhook_send

WEBHOOK_MAX_RETRIES = 8
WEBHOOK_BACKOFF_FACTOR_SECONDS = 5
# 5 s, 10 s, 20 s ... capped at 10 minutes: about 20 minutes for a backend to come back.
WEBHOOK_BACKOFF_MAX_SECONDS = 600
# In-process mode (no broker) runs the task inside the caller, which waits: a few immediate
# retries ride out a blip without holding the caller for minutes.
WEBHOOK_IN_PROCESS_RETRIES = 2


# acks_late: a worker that dies mid-call leaves the message to another worker; the idempotency key
# makes the second call harmless.
@shared_task(bind=True, max_retries=WEBHOOK_MAX_RETRIES, acks_late=True)
def action_webhook_task(
    self: Task[Any, Any], action_id: int, payload: dict[str, Any], idempotency_key: str
) -> dict[str, Any]:
    """Call an action's webhook, retrying while the failure is retryable (timeouts, connection
    errors, 5xx, 429; a 4xx is the backend's final answer), with exponential backoff and jitter
    so that many requests do not hit a recovering backend at once.

    Every try sends the same idempotency key, so the backend runs the action at most once. Returns
    the last try's WebhookResult as a dict, plus `attempts`; the caller records it.
    """
    result = action_webhook_send(
        action_id=action_id, payload=payload, idempotency_key=idempotency_key
    )
    retries = self.request.retries
    if self.request.is_eager:
        if result.retryable and retries < WEBHOOK_IN_PROCESS_RETRIES:
            # Celery's own eager retry would raise Retry into the caller (eager errors propagate
            # in this project), and no one could run a delayed retry: try again now instead.
            again = self.apply(args=(action_id, payload, idempotency_key), retries=retries + 1)
            return dict(again.get())
    elif result.retryable and retries < WEBHOOK_MAX_RETRIES:
        delay = get_exponential_backoff_interval(
            factor=WEBHOOK_BACKOFF_FACTOR_SECONDS,
            retries=retries,
            maximum=WEBHOOK_BACKOFF_MAX_SECONDS,
            full_jitter=True,
        )
        raise self.retry(countdown=delay)
    return {**result.to_json(), "attempts": retries + 1}
