"""Shared fixtures: two workspaces and people with every role, plus an outsider.

`workspace` is Acme, where `admin`, `agent` (tier 1) and `viewer` work; `other_workspace` is
Globex, whose only member is `outsider`.
"""

from __future__ import annotations

import pytest
from django.test import Client

from console.models import Role, User, Workspace
from console.services import membership_set, workspace_create

PASSWORD = "a-long-test-password"


def make_user(email: str, name: str = "") -> User:
    return User.objects.create_user(email=email, password=PASSWORD, name=name)


@pytest.fixture
def workspace(db) -> Workspace:
    return workspace_create(name="Acme", slug="acme")


@pytest.fixture
def other_workspace(db) -> Workspace:
    return workspace_create(name="Globex", slug="globex")


@pytest.fixture
def admin(workspace) -> User:
    user = make_user("admin@acme.example", "Alice Admin")
    membership_set(workspace=workspace, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def agent(workspace) -> User:
    user = make_user("agent@acme.example", "Andy Agent")
    membership_set(workspace=workspace, user=user, role=Role.AGENT, tier=1)
    return user


@pytest.fixture
def viewer(workspace) -> User:
    user = make_user("viewer@acme.example", "Vera Viewer")
    membership_set(workspace=workspace, user=user, role=Role.VIEWER)
    return user


@pytest.fixture
def outsider(other_workspace) -> User:
    user = make_user("boss@globex.example", "Otto Outsider")
    membership_set(workspace=other_workspace, user=user, role=Role.ADMIN)
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
