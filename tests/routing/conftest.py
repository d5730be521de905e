"""Fixtures for the support-flow tests: a local stand-in for an OpenAI-compatible endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.routing.fake_openai import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.start()
    yield server
    server.stop()
