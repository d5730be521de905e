import io
from pathlib import Path

import pytest
from django.core.management import call_command

from console.models import Membership, User, Workspace
from console.services import demo_workspace_setup
from knowledge.models import Source
from routing.models import Action, TestQuestion

pytestmark = pytest.mark.django_db


def test_demo_creates_the_workspace_and_help_center_once_and_prints_working_logins(client):
    first, second = io.StringIO(), io.StringIO()

    call_command("demo", stdout=first)
    call_command("demo", stdout=second)

    assert Workspace.objects.filter(slug="demo").count() == 1
    roles = sorted((m.role, m.tier) for m in Membership.objects.filter(workspace__slug="demo"))
    assert roles == [("admin", None), ("agent", 1), ("agent", 2)]
    help_center = Source.objects.get(workspace__slug="demo")
    assert help_center.status == "ready" and not help_center.file_errors
    articles = help_center.articles.count()
    assert articles >= 30 + 8 + 8
    assert f"Help center: {articles} articles (Ready)." in first.getvalue()
    assert f"Help center: {articles} articles (Ready)." in second.getvalue()
    assert set(help_center.articles.values_list("locale", flat=True)) == {"en", "pt", "es"}
    assert "admin@demo.example" in first.getvalue() and "demo-password" in first.getvalue()
    assert client.login(username="agent2@demo.example", password="demo-password")
    assert "Agent, tier 2" in client.get("/w/demo/").content.decode()
    cases = (Path(__file__).parents[2] / "knowledge/demo_content/cases.jsonl").read_text()
    case_count = len([line for line in cases.splitlines() if line.strip()])
    assert f"Test questions: {case_count} added, 0 brought up to date." in first.getvalue()
    assert f"Test questions: 0 added, {case_count} brought up to date." in second.getvalue()
    assert TestQuestion.objects.filter(workspace__slug="demo").count() == case_count
    assert Action.objects.filter(workspace__slug="demo", enabled=False).count() == 6


def test_demo_restores_a_changed_demo_password(client):
    demo_workspace_setup()
    admin = User.objects.get(email="admin@demo.example")
    admin.set_password("something-else")
    admin.save()

    demo_workspace_setup()

    assert client.login(username="admin@demo.example", password="demo-password")
