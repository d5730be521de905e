"""The chat's flood counters, in this process and in Redis (shared by every ASGI process)."""

from __future__ import annotations

import uuid

import pytest

from conversations import rate_limits


@pytest.fixture(params=["memory", "redis"])
def counters(request, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0" if request.param == "redis" else None
    rate_limits._counters.cache_clear()
    yield request.param
    rate_limits._counters.cache_clear()


def test_hits_over_the_limit_are_refused_until_the_next_window(counters, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(rate_limits, "time", type("Clock", (), {"time": lambda: now[0]}))
    key = f"test:{uuid.uuid4().hex}"

    first_window = [rate_limits.rate_limit_exceeded(key, rate=(3, 10)) for _ in range(5)]
    now[0] += 10
    next_window = rate_limits.rate_limit_exceeded(key, rate=(3, 10))

    assert first_window == [False, False, False, True, True]
    assert next_window is False
