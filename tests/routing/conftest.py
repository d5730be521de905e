"""Fixtures for the support-flow tests: local stand-ins for an OpenAI-compatible endpoint and for
a company's backend that receives action webhooks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.routing.fake_backend import FakeBackend
from tests.routing.fake_openai import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_backend() -> Iterator[FakeBackend]:
    server = FakeBackend()
    server.start()
    yield server
    server.stop()
