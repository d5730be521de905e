"""Latency of the requests every later feature stands on: an API call with a key, a console page.

Run with `make benchmark`; prints median and p95. Not part of `make test`.
"""

from __future__ import annotations

import statistics
import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

from console.services import api_key_create

pytestmark = pytest.mark.django_db

ROUNDS = 300


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def measure(call) -> tuple[float, float]:
    call()  # warm caches and the connection
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def test_api_request_with_a_key(workspace, capsys):
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(workspace=workspace, name='b').raw_key}"
    )

    median, p95 = measure(lambda: client.get("/api/v1/workspace/"))

    with capsys.disabled():
        print(f"\nGET /api/v1/workspace/ with an API key: median {median:.2f} ms, p95 {p95:.2f} ms")
    assert median < 50


def test_console_page(admin, capsys):
    client = Client()
    client.force_login(admin)

    median, p95 = measure(lambda: client.get("/w/acme/"))

    with capsys.disabled():
        print(f"\nGET /w/acme/ (console shell): median {median:.2f} ms, p95 {p95:.2f} ms")
    assert median < 100
