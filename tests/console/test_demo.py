import io

import pytest
from django.core.management import call_command

from console.models import Membership, User, Workspace

pytestmark = pytest.mark.django_db


def test_demo_creates_the_workspace_once_and_prints_working_logins(client):
    first, second = io.StringIO(), io.StringIO()

    call_command("demo", stdout=first)
    call_command("demo", stdout=second)

    assert Workspace.objects.filter(slug="demo").count() == 1
    roles = sorted((m.role, m.tier) for m in Membership.objects.filter(workspace__slug="demo"))
    assert roles == [("admin", None), ("agent", 1), ("agent", 2)]
    assert first.getvalue() == second.getvalue()
    assert "admin@demo.example" in first.getvalue() and "demo-password" in first.getvalue()
    assert client.login(username="agent2@demo.example", password="demo-password")
    assert "Agent, tier 2" in client.get("/w/demo/").content.decode()


def test_demo_restores_a_changed_demo_password(client):
    call_command("demo", stdout=io.StringIO())
    admin = User.objects.get(email="admin@demo.example")
    admin.set_password("something-else")
    admin.save()

    call_command("demo", stdout=io.StringIO())

    assert client.login(username="admin@demo.example", password="demo-password")
