"""Who sees which console page: members see their workspace, nobody sees another tenant's."""

from __future__ import annotations

import pytest

from console.models import Role
from console.services import membership_set
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

WORKSPACE_PAGES = ["", "team/", "api-keys/", "flows/", "rules/", "knowledge/", "inbox/"]


def test_anonymous_visitor_is_sent_to_the_login_page(client, workspace):
    response = client.get("/w/acme/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/w/acme/"


def test_login_page_signs_in_with_any_capitalisation_of_the_email(client, admin):
    response = client.post(
        "/login/", {"username": "Admin@ACME.example", "password": "a-long-test-password"}
    )

    assert response.status_code == 302
    page = client.get(response["Location"], follow=True)
    assert b"<h1>Acme</h1>" in page.content


def test_wrong_password_is_refused_with_a_message(client, admin):
    response = client.post("/login/", {"username": admin.email, "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct email and password" in response.content.decode()


@pytest.mark.parametrize("page", WORKSPACE_PAGES)
def test_member_of_another_workspace_gets_404(outsider, workspace, page):
    response = client_for(outsider).get(f"/w/acme/{page}")

    assert response.status_code == 404
    assert b"Acme" not in response.content


def test_unknown_workspace_is_404_like_a_foreign_one(admin):
    assert client_for(admin).get("/w/no-such-workspace/").status_code == 404


def test_shell_shows_the_workspace_navigation_and_role(agent):
    response = client_for(agent).get("/w/acme/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Acme</h1>" in html
    assert 'data-testid="current-role">Agent, tier 1<' in html
    for label in [
        "Flows",
        "Rules",
        "Knowledge",
        "Actions",
        "Inbox",
        "Analytics",
        "Team",
        "API keys",
    ]:
        assert f">{label}" in html


@pytest.mark.parametrize("section", ["analytics"])
def test_sections_not_built_yet_say_so(viewer, section):
    response = client_for(viewer).get(f"/w/acme/{section}/")

    assert response.status_code == 200
    assert "This page is not built yet." in response.content.decode()


def test_viewer_cannot_reach_admin_pages(viewer):
    response = client_for(viewer).get("/w/acme/api-keys/")

    assert response.status_code == 403
    assert "This page is for Admin of Acme. You are Viewer." in response.content.decode()


def test_agent_cannot_create_api_keys(agent, workspace):
    response = client_for(agent).post("/w/acme/api-keys/", {"name": "sneaky"})

    assert response.status_code == 403
    assert not workspace.api_keys.exists()


def test_team_page_lists_members_of_this_workspace_only(admin, agent, viewer, outsider):
    html = client_for(viewer).get("/w/acme/team/").content.decode()

    assert "admin@acme.example" in html and "Agent, tier 1" in html
    assert "globex" not in html


def test_workspace_switcher_lists_the_users_workspaces(admin, other_workspace, workspace):
    membership_set(workspace=other_workspace, user=admin, role=Role.VIEWER)
    client = client_for(admin)

    html = client.get("/w/acme/").content.decode()

    assert 'href="/w/globex/"' in html
    # The console remembers the last workspace opened.
    client.get("/w/globex/")
    assert client.get("/")["Location"] == "/w/globex/"


def test_single_workspace_user_has_no_switcher_menu(admin, other_workspace):
    html = client_for(admin).get("/w/acme/").content.decode()

    assert 'href="/w/globex/"' not in html
    assert "Switch workspace" not in html


def test_user_without_workspace_is_told_so(db):
    from tests.conftest import make_user

    response = client_for(make_user("lonely@example.com")).get("/")

    assert response.status_code == 200
    assert "You are not in any workspace yet" in response.content.decode()
