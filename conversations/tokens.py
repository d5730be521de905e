"""Signed credentials the customer chat accepts: the conversation token an anonymous customer's
browser keeps, and the identity signature a company's backend makes for its signed-in users.

The conversation token is the only thing that lets a browser read a transcript, so it is signed
with SECRET_KEY (rotating the key starts every customer's chat afresh) and names its workspace:
a token of Globex opens nothing at Acme. It expires after CONVERSATION_TOKEN_MAX_AGE, and the
chat hands out a fresh one on every connect, so the limit is "90 days without visiting", not
"90 days after the first message": a token left on a shared computer stops opening the
transcript eventually, while a returning customer never notices.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from django.core import signing

from console.models import Workspace
from routing.actions import action_webhook_secret_get_or_create

# A salt keeps these signatures apart from Django's others; it is not a secret.
CONVERSATION_TOKEN_SALT = "conversations.chat.conversation-token"  # noqa: S105
CONVERSATION_TOKEN_MAX_AGE = timedelta(days=90)


def conversation_token_make(*, workspace_id: int, conversation_id: int) -> str:
    return signing.dumps({"w": workspace_id, "c": conversation_id}, salt=CONVERSATION_TOKEN_SALT)


def conversation_token_read(token: str, *, workspace_id: int) -> int | None:
    """The conversation id the token names, or None when it is malformed, tampered with,
    expired, or made for another workspace."""
    try:
        payload = signing.loads(
            token, salt=CONVERSATION_TOKEN_SALT, max_age=CONVERSATION_TOKEN_MAX_AGE
        )
    except signing.BadSignature:  # SignatureExpired is a BadSignature too
        return None
    if not isinstance(payload, dict) or payload.get("w") != workspace_id:
        return None
    conversation_id = payload.get("c")
    return conversation_id if isinstance(conversation_id, int) else None


def identity_signature(*, secret: str, user_id: str) -> str:
    """What the company's backend computes: hex HMAC-SHA256 of the user id."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def identity_verify(*, workspace: Workspace, user_id: str, signature: str) -> bool:
    """Whether the company's backend vouched for `user_id`.

    The key is the workspace's action webhook secret: the company's backend already holds it
    (it checks our webhooks with it) and admins already know where to read and rotate it, so a
    second secret would only be a second thing to leak and to rotate. Rotating it signs every
    verified customer out of verification until the backend uses the new one.
    """
    if not user_id or not signature:
        return False
    secret = action_webhook_secret_get_or_create(workspace=workspace).secret
    expected = identity_signature(secret=secret, user_id=user_id)
    return hmac.compare_digest(expected, signature.strip().lower())
