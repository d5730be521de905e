"""Signed webhooks: how an AI action reaches the company's backend, and how that backend checks
that a call really came from us.

A call is `POST <webhook_url>` with a JSON body and the headers

    Content-Type: application/json
    Idempotency-Key: <the same key on every retry of one request>
    X-Support-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>

Delivery never raises for anything the network or the receiver does: it returns a
`WebhookResult` that says whether it worked and, if not, whether trying again may help.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Support-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_VERSION = "v1"
DEFAULT_TIMEOUT_SECONDS = 10.0
# What we keep of a reply: enough to show an agent what the backend said, not a stored download.
RESPONSE_BODY_LIMIT = 10_000
IDEMPOTENCY_KEY_MAX_LENGTH = 255
USER_AGENT = "support-console-webhooks/1"


@dataclass(frozen=True)
class WebhookResult:
    """What happened to one delivery.

    `ok` means the backend answered 2xx. `error` says what went wrong ("timed out",
    "unreachable", "HTTP 500"...); on a success it is empty, or "invalid JSON reply" when the
    backend said yes with a body that is not JSON (the action ran; its reply could not be read).
    `retryable` is true for failures another try may fix: timeouts, connection errors, 5xx, 429.
    """

    ok: bool
    status: int | None
    body: str
    error: str
    retryable: bool
    reply: Any = None  # the parsed JSON reply, when there was one

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def failure(cls, error: str, *, retryable: bool, status: int | None = None) -> WebhookResult:
        return cls(ok=False, status=status, body="", error=error, retryable=retryable)


def webhook_sign(secret: str, timestamp: int, body: str | bytes) -> str:
    """The hex HMAC-SHA256 of f"{timestamp}.{body}" under `secret`."""
    raw_body = body.encode() if isinstance(body, str) else body
    message = f"{timestamp}.".encode() + raw_body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_signature_header(secret: str, timestamp: int, body: str | bytes) -> str:
    return f"t={timestamp},{SIGNATURE_VERSION}={webhook_sign(secret, timestamp, body)}"


def webhook_verify(
    secret: str,
    header: str,
    body: str | bytes,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """Whether a webhook's `X-Support-Signature` header is genuine. For the companies' backends:

        from routing.webhooks import webhook_verify

        def support_action(request):
            if not webhook_verify(SECRET, request.headers["X-Support-Signature"], request.body):
                return HttpResponse(status=401)
            ...  # then de-duplicate on the Idempotency-Key header

    Pass the body exactly as received (bytes), before any JSON parsing: re-encoding changes it.
    A signature older or newer than `tolerance_seconds` is refused, so a captured call cannot be
    replayed later; the Idempotency-Key guards against replays inside that window. The header may
    carry several v1 signatures (e.g. one per secret while a rotation settles): one match will do.
    """
    timestamp, signatures = _parse_signature_header(header)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = webhook_sign(secret, timestamp, body)
    # compare_digest on every candidate: the time taken must not tell how much of one matched.
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


def _parse_signature_header(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == SIGNATURE_VERSION and value:
            signatures.append(value)
    return timestamp, signatures


def webhook_deliver(
    *,
    url: str,
    secret: str,
    payload: dict[str, Any],
    idempotency_key: str,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> WebhookResult:
    """POST `payload` as signed JSON to `url` once, and say what happened.

    Redirects are not followed: a signed call goes to the URL the admin set, nowhere else. A
    payload that is not JSON-serialisable or a malformed idempotency key is a programming error
    and raises; nothing the receiver does raises.
    """
    _check_idempotency_key(idempotency_key)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_HEADER: idempotency_key,
        SIGNATURE_HEADER: webhook_signature_header(secret, int(time.time()), body),
    }
    deadline = time.monotonic() + timeout
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("POST", url, content=body.encode(), headers=headers) as response,
        ):
            raw, cut = _read_capped(response, deadline=deadline)
    except httpx.TimeoutException:
        return WebhookResult.failure("timed out", retryable=True)
    except httpx.TransportError as error:
        logger.info("Webhook to %s unreachable: %s", url, error)
        return WebhookResult.failure("unreachable", retryable=True)
    except httpx.InvalidURL:
        return WebhookResult.failure("invalid webhook URL", retryable=False)
    return _result_of(response.status_code, raw, cut)


def _check_idempotency_key(key: str) -> None:
    if (
        not key
        or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH
        or not key.isascii()
        or not key.isprintable()
    ):
        raise ValueError(
            f"An idempotency key is 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters."
        )


def _read_capped(response: httpx.Response, *, deadline: float) -> tuple[bytes, bool]:
    """At most RESPONSE_BODY_LIMIT bytes of the reply, and whether there was more.

    httpx's timeout bounds each read, not the whole reply; a backend trickling bytes would hold
    the worker for ever without the overall deadline."""
    raw = b""
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("The reply took longer than the timeout.")
        raw += chunk
        if len(raw) > RESPONSE_BODY_LIMIT:
            return raw[:RESPONSE_BODY_LIMIT], True
    return raw, False


def _result_of(status: int, raw: bytes, cut: bool) -> WebhookResult:
    body = raw.decode("utf-8", errors="replace")
    if not 200 <= status < 300:
        # 5xx and 429 are the backend being down or busy; any other answer is its final word.
        retryable = status >= 500 or status == 429
        return WebhookResult(
            ok=False, status=status, body=body, error=f"HTTP {status}", retryable=retryable
        )
    if not raw.strip():
        return WebhookResult(ok=True, status=status, body="", error="", retryable=False)
    if cut:
        note = f"reply longer than {RESPONSE_BODY_LIMIT // 1000} kB, cut"
        return WebhookResult(ok=True, status=status, body=body, error=note, retryable=False)
    try:
        reply = json.loads(raw)
    except ValueError:
        return WebhookResult(
            ok=True, status=status, body=body, error="invalid JSON reply", retryable=False
        )
    return WebhookResult(ok=True, status=status, body=body, error="", retryable=False, reply=reply)
