"""Shared fixtures: two workspaces and people with every role, plus an outsider.

`workspace` is Acme, where `admin`, `agent` (tier 1) and `viewer` work; `other_workspace` is
Globex, whose only member is `outsider`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from console.models import Role, User, Workspace
from console.services import membership_set, workspace_create
from knowledge.models import Source, SourceKind
from knowledge.services import source_create, source_sync

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


# A tiny help center: English billing and password articles, and a Portuguese translation.
BILLING_ARTICLE = """# Billing and invoices

Everything about paying for Quillboard.

## Invoices

Download every invoice as a PDF from Settings > Billing > Invoices. Invoices are numbered
QB-2024-000123 and show your VAT id when you have added one.

## Refunds

Annual plans are refunded in full within 14 days of purchase. Monthly plans are not refunded.
"""

PASSWORD_ARTICLE = """# Reset your password

Click "Forgot password" on the sign-in page and enter your work email. The reset link is valid
for 30 minutes and works once. If the email does not arrive, check your spam folder.
"""

SENHA_ARTICLE = """# Redefinir sua senha

Clique em "Esqueci minha senha" na página de login e informe seu e-mail de trabalho. O link de
redefinição vale por 30 minutos e funciona uma única vez.
"""


def write_help_center(folder: Path) -> Path:
    (folder / "en").mkdir(parents=True, exist_ok=True)
    (folder / "pt").mkdir(parents=True, exist_ok=True)
    (folder / "en" / "billing.md").write_text(BILLING_ARTICLE)
    (folder / "en" / "reset-password.md").write_text(PASSWORD_ARTICLE)
    (folder / "pt" / "reset-password.md").write_text(SENHA_ARTICLE)
    return folder


@pytest.fixture
def help_center(tmp_path) -> Path:
    return write_help_center(tmp_path / "help-center")


@pytest.fixture
def synced_source(workspace, help_center) -> Source:
    source = source_create(
        workspace=workspace,
        kind=SourceKind.FOLDER,
        name="Help",
        settings_={"path": str(help_center)},
    )
    return source_sync(source=source)
