"""A sync requested by the web process runs in a separate Celery worker over the real Redis,
and its progress reaches a console socket in the web process through the Redis channel layer."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connection

from config.celery import app as celery_app
from config.channel_layer import redis_channel_layer_config
from console.routing import websocket_urlpatterns
from knowledge.models import Source, SourceKind, SourceStatus
from knowledge.services import source_create, source_sync_request

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"
# The broker gets a Redis database of its own, emptied first: no task left by an earlier run
# reaches this test's worker.
BROKER_URL = "redis://127.0.0.1:6379/15"


def forget_broker_connections() -> None:
    """Celery keeps its connection pools (made for the in-process `memory://` broker by earlier
    tests); drop them so the next task is published with the current broker settings."""
    celery_app.__dict__["_pool"] = None
    celery_app.amqp.__dict__["_producer_pool"] = None


def database_url() -> str:
    """The test database as a URL, for a process that does not share this one's settings."""
    params = connection.get_connection_params()
    host = str(params.get("host") or "")
    user = quote(str(params.get("user") or ""))
    password = quote(str(params.get("password") or ""))
    port = params.get("port") or ""
    name = connection.settings_dict["NAME"]
    if host.startswith("/"):
        return f"postgres://{user}:{password}@/{name}?host={quote(host)}" + (
            f"&port={port}" if port else ""
        )
    return f"postgres://{user}:{password}@{host}:{port or 5432}/{name}"


@pytest.fixture
def redis_setup(settings, monkeypatch, tmp_path):
    """This process and a Celery worker process, both on Redis."""
    redis.Redis.from_url(BROKER_URL).flushdb()
    prefix = f"test-{uuid.uuid4().hex}:"
    settings.CHANNEL_LAYERS = {"default": redis_channel_layer_config(REDIS_URL, prefix=prefix)}
    channel_layers.backends.clear()
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "broker_url", BROKER_URL)
    forget_broker_connections()
    worker_settings = tmp_path / "worker_settings.py"
    # The worker uses the project's settings with this test's channel prefix and broker.
    worker_settings.write_text(
        "from config.settings import *  # noqa: F403\n"
        f"CHANNEL_LAYERS['default']['CONFIG']['prefix'] = {prefix!r}\n"
        f"CELERY_BROKER_URL = {BROKER_URL!r}\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
        "DJANGO_SETTINGS_MODULE": "worker_settings",
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": database_url(),
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
    log.close()
    forget_broker_connections()
    channel_layers.backends.clear()


async def test_worker_syncs_and_progress_reaches_the_console(redis_setup, admin, help_center):
    source = await sync_to_async(source_create)(
        workspace=await sync_to_async(lambda: admin.memberships.get().workspace)(),
        kind=SourceKind.FOLDER,
        name="Help",
        settings_={"path": str(help_center)},
    )
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/w/acme/events/")
    socket.scope["user"] = admin
    try:
        assert (await socket.connect())[0]

        await sync_to_async(source_sync_request)(source=source)

        statuses: list[str] = []
        while not statuses or statuses[-1] not in (SourceStatus.READY, SourceStatus.FAILED):
            event = await socket.receive_json_from(timeout=120)
            statuses.append(event["status"])
        assert statuses[0] == SourceStatus.QUEUED
        assert SourceStatus.SYNCING in statuses
        assert statuses[-1] == SourceStatus.READY
        assert event == {**event, "processed": 3, "total": 3, "name": "Help"}
    finally:
        await socket.disconnect()
    stored = await sync_to_async(Source.objects.get)(pk=source.pk)
    assert stored.status == SourceStatus.READY
    assert await sync_to_async(stored.articles.count)() == 3
