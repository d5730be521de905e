"""Signed action webhooks against a local backend: what the backend receives and can verify,
what a failure looks like, and which failures the task tries again."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from celery.canvas import Signature
from celery.exceptions import Retry

from routing.actions import (
    action_create,
    action_update,
    action_webhook_secret_get_or_create,
    action_webhook_secret_rotate,
)
from routing.tasks import (
    WEBHOOK_IN_PROCESS_RETRIES,
    WEBHOOK_MAX_RETRIES,
    action_webhook_task,
)
from routing.webhooks import (
    RESPONSE_BODY_LIMIT,
    webhook_deliver,
    webhook_sign,
    webhook_signature_header,
    webhook_verify,
)
from tests.routing.fake_backend import Reply, closed_port_url

SECRET = "a-webhook-secret"
REFUND = {"amount": 25.5, "currency": "EUR", "reason": "Charged twice"}


def deliver(url: str, payload: dict | None = None, timeout: float = 5.0, key: str = "req-1"):
    return webhook_deliver(
        url=url, secret=SECRET, payload=payload or REFUND, idempotency_key=key, timeout=timeout
    )


# --- signing and verifying ------------------------------------------------------------------


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()

    assert webhook_sign("s3cret", 1700000000, '{"a":1}') == expected
    assert webhook_sign("s3cret", 1700000000, b'{"a":1}') == expected


def test_a_delivery_is_signed_json_with_the_idempotency_key(fake_backend):
    result = deliver(fake_backend.url)

    (request,) = fake_backend.received
    assert result.ok and result.status == 200 and result.reply == {"done": True}
    assert result.error == "" and not result.retryable
    assert json.loads(request.body) == REFUND
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "req-1"
    assert webhook_verify(SECRET, request.headers["x-support-signature"], request.body)


def test_a_tampered_body_or_another_secret_fails_verification(fake_backend):
    deliver(fake_backend.url)
    (request,) = fake_backend.received
    header = request.headers["x-support-signature"]
    tampered = request.body.replace(b"25.5", b"2550")

    assert not webhook_verify(SECRET, header, tampered)
    assert not webhook_verify("another-secret", header, request.body)


def test_an_old_or_future_signature_fails_verification():
    body = '{"a":1}'
    signed_at = int(time.time()) - 301
    header = webhook_signature_header(SECRET, signed_at, body)

    assert not webhook_verify(SECRET, header, body)
    assert webhook_verify(SECRET, header, body, tolerance_seconds=600)
    assert not webhook_verify(SECRET, header, body, now=signed_at - 301)


@pytest.mark.parametrize(
    "header", ["", "garbage", "t=abc,v1=00", "v1=00", "t=1700000000", "t=1700000000,v1="]
)
def test_a_malformed_signature_header_fails_verification(header):
    assert not webhook_verify(SECRET, header, "{}", now=1700000000)


def test_verification_accepts_any_of_several_signatures():
    body, signed_at = "{}", 1700000000
    good = webhook_sign(SECRET, signed_at, body)
    header = f"t={signed_at},v1={'0' * 64},v1={good}"

    assert webhook_verify(SECRET, header, body, now=signed_at)


# --- failures -------------------------------------------------------------------------------


def test_a_slow_backend_times_out_and_may_be_retried(fake_backend):
    fake_backend.script(Reply(delay_seconds=5))
    started = time.monotonic()

    result = deliver(fake_backend.url, timeout=0.2)

    assert time.monotonic() - started < 2
    assert not result.ok and result.error == "timed out" and result.retryable
    assert result.status is None


def test_a_backend_that_is_down_is_unreachable_and_may_be_retried():
    result = deliver(closed_port_url())

    assert not result.ok and result.error == "unreachable" and result.retryable


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (404, False)]
)
def test_http_errors_say_the_status_and_only_5xx_and_429_are_retryable(
    fake_backend, status, retryable
):
    fake_backend.script(Reply(status=status, body=b'{"error": "nope"}'))

    result = deliver(fake_backend.url)

    assert not result.ok and result.status == status
    assert result.error == f"HTTP {status}" and result.retryable is retryable
    assert result.body == '{"error": "nope"}'


def test_a_2xx_reply_that_is_not_json_still_succeeds_and_says_so(fake_backend):
    fake_backend.script(Reply(body=b"OK, refunded", content_type="text/plain"))

    result = deliver(fake_backend.url)

    assert result.ok and result.error == "invalid JSON reply"
    assert result.body == "OK, refunded" and result.reply is None


def test_an_empty_2xx_reply_is_a_plain_success(fake_backend):
    fake_backend.script(Reply(status=204, body=b""))

    result = deliver(fake_backend.url)

    assert result.ok and result.status == 204 and result.error == ""


def test_a_huge_reply_is_cut_at_the_limit(fake_backend):
    fake_backend.script(Reply(body=b'{"blob": "' + b"x" * 50_000 + b'"}'))

    result = deliver(fake_backend.url)

    assert result.ok and len(result.body) == RESPONSE_BODY_LIMIT
    assert "cut" in result.error


def test_redirects_are_not_followed(fake_backend):
    fake_backend.script(Reply(status=307, body=b""))

    result = deliver(fake_backend.url)

    assert not result.ok and result.error == "HTTP 307" and not result.retryable


@pytest.mark.parametrize("key", ["", "line\nbreak", "é", "k" * 256])
def test_a_malformed_idempotency_key_is_a_programming_error(fake_backend, key):
    with pytest.raises(ValueError, match="idempotency key"):
        deliver(fake_backend.url, key=key)
    assert fake_backend.received == []


# --- the task -------------------------------------------------------------------------------


@pytest.fixture
def refund_action(workspace, fake_backend):
    return action_create(
        workspace=workspace,
        key="issue_refund",
        name="Issue refund",
        description="Refund a payment.",
        risk="write",
        policy="approval",
        webhook_url=fake_backend.url,
        enabled=True,
    )


def run_task(action, key: str = "request-7") -> dict:
    return action_webhook_task.apply(args=(action.pk, REFUND, key)).get()


@pytest.mark.django_db
def test_the_task_retries_a_500_and_succeeds_with_the_same_idempotency_key(
    fake_backend, refund_action, workspace
):
    fake_backend.script(Reply(status=500, body=b"down"), Reply())

    result = run_task(refund_action)

    assert result["ok"] and result["attempts"] == 2
    secret = action_webhook_secret_get_or_create(workspace=workspace).secret
    assert [r.headers["idempotency-key"] for r in fake_backend.received] == ["request-7"] * 2
    for request in fake_backend.received:
        assert webhook_verify(secret, request.headers["x-support-signature"], request.body)
    assert json.loads(fake_backend.received[-1].body) == {
        "action": "issue_refund",
        "workspace": "acme",
        "data": REFUND,
    }


@pytest.mark.django_db
def test_the_task_does_not_retry_a_4xx(fake_backend, refund_action):
    fake_backend.script(Reply(status=422, body=b'{"error": "amount too high"}'))

    result = run_task(refund_action)

    assert not result["ok"] and result["error"] == "HTTP 422" and result["attempts"] == 1
    assert result["body"] == '{"error": "amount too high"}'
    assert len(fake_backend.received) == 1


@pytest.mark.django_db
def test_in_process_the_task_gives_up_after_a_few_retries_and_returns_the_failure(
    fake_backend, refund_action
):
    fake_backend.script(Reply(status=503, body=b""))

    result = run_task(refund_action)

    assert not result["ok"] and result["error"] == "HTTP 503"
    assert result["attempts"] == WEBHOOK_IN_PROCESS_RETRIES + 1
    assert len(fake_backend.received) == WEBHOOK_IN_PROCESS_RETRIES + 1


@pytest.fixture
def scheduled_retries(monkeypatch) -> list[Signature]:
    """On a worker, a retry is a message to the broker for later; keep it here instead."""
    scheduled: list[Signature] = []
    monkeypatch.setattr(Signature, "apply_async", lambda sig, *a, **kw: scheduled.append(sig))
    return scheduled


def run_on_worker(action, *, retries: int) -> dict:
    """The task's body as a worker runs it: not eager, at its `retries`-th retry."""
    args = (action.pk, REFUND, "request-7")
    # celery-types types push_request like a call of the task; Celery takes the request's fields.
    action_webhook_task.push_request(  # type: ignore[call-arg]
        id="task-1", args=args, kwargs={}, retries=retries, is_eager=False, called_directly=False
    )
    try:
        return action_webhook_task.run(*args)
    finally:
        action_webhook_task.pop_request()


@pytest.mark.django_db
@pytest.mark.parametrize("retries", [0, 3])
def test_on_a_worker_a_500_is_retried_later_with_exponential_backoff(
    fake_backend, refund_action, scheduled_retries, retries
):
    fake_backend.script(Reply(status=500, body=b""))

    with pytest.raises(Retry) as retry:
        run_on_worker(refund_action, retries=retries)

    (again,) = scheduled_retries
    when = retry.value.when
    assert isinstance(when, int) and 0 <= when <= 5 * 2**retries  # full jitter under the bound
    assert again.options["countdown"] == retry.value.when
    assert again.options["retries"] == retries + 1
    assert again.args == (refund_action.pk, REFUND, "request-7")


@pytest.mark.django_db
def test_on_a_worker_the_last_retry_returns_the_failure(
    fake_backend, refund_action, scheduled_retries
):
    fake_backend.script(Reply(status=500, body=b""))

    result = run_on_worker(refund_action, retries=WEBHOOK_MAX_RETRIES)

    assert not result["ok"] and result["attempts"] == WEBHOOK_MAX_RETRIES + 1
    assert scheduled_retries == []


@pytest.mark.django_db
def test_on_a_worker_a_4xx_is_not_retried(fake_backend, refund_action, scheduled_retries):
    fake_backend.script(Reply(status=403, body=b""))

    result = run_on_worker(refund_action, retries=0)

    assert result["error"] == "HTTP 403" and result["attempts"] == 1
    assert scheduled_retries == []


@pytest.mark.django_db
def test_a_disabled_or_deleted_action_is_not_called(fake_backend, refund_action):
    action_update(action=refund_action, changes={"enabled": False})
    disabled = run_task(refund_action)
    action_id = refund_action.pk
    refund_action.delete()
    deleted = action_webhook_task.apply(args=(action_id, REFUND, "request-8")).get()

    assert disabled["error"] == "action disabled" and not disabled["ok"]
    assert deleted["error"] == "action deleted" and not deleted["ok"]
    assert fake_backend.received == []


@pytest.mark.django_db
def test_after_a_rotation_calls_are_signed_with_the_new_secret(
    fake_backend, refund_action, workspace
):
    old = action_webhook_secret_get_or_create(workspace=workspace).secret
    new = action_webhook_secret_rotate(workspace=workspace).secret

    run_task(refund_action)

    (request,) = fake_backend.received
    header = request.headers["x-support-signature"]
    assert new != old and len(new) >= 43
    assert webhook_verify(new, header, request.body)
    assert not webhook_verify(old, header, request.body)
