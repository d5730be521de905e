"""Fixtures for conversations: a flow confident enough to answer the mini help center, API
clients for every caller, and a way to run what a request schedules after its commit."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from rest_framework.test import APIClient

from console.models import User, Workspace
from console.services import api_key_create
from routing.models import FlowVersion
from routing.services import flow_publish, flow_settings_update
from tests.routing.conftest import fake_backend  # noqa: F401  (the company's webhook receiver)

ROUTINE_QUESTION = "How long is the password reset link valid?"


@pytest.fixture
def confident_flow(workspace, admin) -> FlowVersion:
    """The fixture's articles are a few lines long, so their passages match questions less
    closely than real articles do: publish the flow with a lower confidence threshold (as the
    routing tests do)."""
    flow = workspace.flows.get()
    flow = flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.4},
        expected_revision=flow.draft_revision,
    )
    return flow_publish(flow=flow, published_by=admin)


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks) -> Callable[[], AbstractContextManager[Any]]:
    """Tests run inside a transaction that never commits; this runs what the code inside the
    `with` block scheduled on commit (the reply job, the broadcasts), as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def key_client(workspace: Workspace) -> APIClient:
    client = APIClient()
    raw_key = api_key_create(workspace=workspace, name="backend").raw_key
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def session_client(user: User, workspace_slug: str = "acme") -> APIClient:
    client = APIClient(HTTP_X_WORKSPACE=workspace_slug)
    client.force_login(user)
    return client


@pytest.fixture
def api(workspace) -> APIClient:
    """The company's backend, with a workspace API key."""
    return key_client(workspace)
