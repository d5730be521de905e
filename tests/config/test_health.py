"""GET /healthz tells a load balancer and a person which dependency is down."""

from __future__ import annotations

import pytest
from channels.layers import channel_layers

from config.celery import app as celery_app
from config.channel_layer import redis_channel_layer_config

pytestmark = pytest.mark.django_db

REDIS = "redis://127.0.0.1:6379/0"
NOTHING_LISTENS = "redis://127.0.0.1:1/0"  # port 1: connection refused at once


@pytest.fixture
def redis_broker(monkeypatch):
    def use(url: str) -> None:
        monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
        monkeypatch.setitem(celery_app.conf, "broker_url", url)

    return use


@pytest.fixture
def redis_channel_layer(settings):
    def use(url: str) -> None:
        settings.CHANNEL_LAYERS = {
            "default": redis_channel_layer_config(url, prefix="test-healthz:")
        }
        channel_layers.backends.clear()

    yield use
    channel_layers.backends.clear()


def test_healthy_in_process_setup(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert "pgvector" in body["checks"]["database"]["detail"]
    assert body["checks"]["channel_layer"]["detail"] == "InMemoryChannelLayer delivered a message"
    assert body["checks"]["broker"]["detail"] == "tasks run in this process (no REDIS_URL)"


def test_healthy_with_real_redis(client, redis_broker, redis_channel_layer):
    redis_broker(REDIS)
    redis_channel_layer(REDIS)

    response = client.get("/healthz")

    assert response.status_code == 200, response.json()
    checks = response.json()["checks"]
    assert checks["broker"] == {"ok": True, "detail": "broker reachable"}
    assert checks["channel_layer"]["detail"] == "RedisChannelLayer delivered a message"


def test_dead_broker_gives_503_naming_the_broker(client, redis_broker):
    redis_broker(NOTHING_LISTENS)

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["detail"].startswith("broker unreachable:")
    assert "refused" in body["checks"]["broker"]["detail"].lower()
    assert body["checks"]["database"]["ok"] is True


def test_dead_channel_layer_gives_503(client, redis_channel_layer):
    redis_channel_layer(NOTHING_LISTENS)

    response = client.get("/healthz")

    assert response.status_code == 503
    channel_check = response.json()["checks"]["channel_layer"]
    assert channel_check["ok"] is False
    assert channel_check["detail"].startswith("channel layer failed:")


def test_healthz_answers_only_get(client):
    assert client.post("/healthz").status_code == 405
