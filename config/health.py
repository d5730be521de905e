"""GET /healthz: is this process able to serve? Checks the database, channel layer and broker.

Each check answers within HEALTH_CHECK_TIMEOUT_SECONDS and reports what failed in plain words,
so whoever reads a 503 (a person or a load balancer) knows which dependency to look at.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str


def check_database() -> CheckResult:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
    except Exception as error:
        logger.warning("Health check: database unreachable: %s", error)
        return CheckResult(False, f"database unreachable: {error}")
    if row is None:
        return CheckResult(False, "connected, but the pgvector extension is missing (run migrate)")
    return CheckResult(True, f"connected, pgvector {row[0]}")


def check_channel_layer() -> CheckResult:
    layer = get_channel_layer()
    if layer is None:
        return CheckResult(False, "no channel layer configured")
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS

    async def round_trip() -> bool:
        channel = await layer.new_channel("healthz.")
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "healthz.ping", "token": token})
        message = await layer.receive(channel)
        return bool(message.get("token") == token)

    async def round_trip_with_timeout() -> bool:
        return await asyncio.wait_for(round_trip(), timeout)

    try:
        delivered = async_to_sync(round_trip_with_timeout)()
    except Exception as error:
        logger.warning("Health check: channel layer failed: %r", error)
        return CheckResult(False, f"channel layer failed: {error or type(error).__name__}")
    kind = type(layer).__name__
    return CheckResult(
        delivered, f"{kind} delivered a message" if delivered else f"{kind} lost a message"
    )


def check_broker() -> CheckResult:
    if celery_app.conf.task_always_eager:
        return CheckResult(True, "tasks run in this process (no REDIS_URL)")
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except Exception as error:
        logger.warning("Health check: broker unreachable: %s", error)
        return CheckResult(False, f"broker unreachable: {error}")
    return CheckResult(True, "broker reachable")


CHECKS: dict[str, Callable[[], CheckResult]] = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    results = {name: check() for name, check in CHECKS.items()}
    healthy = all(result.ok for result in results.values())
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "checks": {name: asdict(result) for name, result in results.items()},
        },
        status=200 if healthy else 503,
    )
