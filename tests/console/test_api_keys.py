"""Workspace API keys: hashed at rest, shown once, revocable, sent as a Bearer token."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from console.models import ApiKey
from console.services import api_key_create
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def bearer(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def test_admin_creates_a_key_that_is_shown_once_and_stored_hashed(admin, workspace):
    console = client_for(admin)

    response = console.post("/w/acme/api-keys/", {"name": "Billing backend"})

    html = response.content.decode()
    raw_key = html.split('data-testid="new-api-key">')[1].split("<")[0]
    assert raw_key.startswith("sck_") and len(raw_key) > 40
    stored = ApiKey.objects.get(workspace=workspace)
    assert stored.name == "Billing backend"
    assert raw_key not in (stored.digest, stored.prefix)
    assert raw_key not in console.get("/w/acme/api-keys/").content.decode()
    assert bearer(raw_key).get("/api/v1/workspace/").json()["slug"] == "acme"


def test_blank_key_name_is_refused_and_what_was_typed_is_kept(admin, workspace):
    response = client_for(admin).post("/w/acme/api-keys/", {"name": "   "})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not workspace.api_keys.exists()


def test_overlong_key_name_is_refused_and_kept_in_the_form(admin, workspace):
    response = client_for(admin).post("/w/acme/api-keys/", {"name": "x" * 121})

    html = response.content.decode()
    assert response.status_code == 400
    assert "at most 120 characters" in html
    assert 'value="' + "x" * 121 + '"' in html


def test_a_key_acts_on_its_own_workspace_only(workspace, other_workspace):
    acme_key = api_key_create(workspace=workspace, name="a").raw_key

    response = bearer(acme_key).get("/api/v1/workspace/", HTTP_X_WORKSPACE="globex")

    assert response.json()["slug"] == "acme"


def test_revoked_key_is_refused(admin, workspace):
    issued = api_key_create(workspace=workspace, name="old")
    response = client_for(admin).post(f"/w/acme/api-keys/{issued.api_key.pk}/revoke/")
    assert response.status_code == 302

    refused = bearer(issued.raw_key).get("/api/v1/workspace/")

    assert refused.status_code == 401
    assert refused.json() == {"detail": "Unknown or revoked API key."}
    assert refused["WWW-Authenticate"] == 'Bearer realm="api"'


def test_admin_cannot_revoke_another_workspaces_key(admin, other_workspace):
    foreign = api_key_create(workspace=other_workspace, name="theirs")

    response = client_for(admin).post(f"/w/acme/api-keys/{foreign.api_key.pk}/revoke/")

    assert response.status_code == 404
    foreign.api_key.refresh_from_db()
    assert foreign.api_key.is_active


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Bearer", "Malformed Authorization header: send 'Authorization: Bearer <key>'."),
        ("Bearer a b", "Malformed Authorization header: send 'Authorization: Bearer <key>'."),
        ("Bearer sck_made-up", "Unknown or revoked API key."),
    ],
)
def test_bad_authorization_headers_get_a_clear_401(db, header, detail):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/workspace/")

    assert response.status_code == 401
    assert response.json() == {"detail": detail}


def test_no_credentials_is_401(db):
    response = APIClient().get("/api/v1/workspace/")

    assert response.status_code == 401


def test_session_user_names_a_workspace_they_belong_to(admin, outsider):
    client = APIClient()
    client.force_login(admin)

    assert client.get("/api/v1/workspace/", HTTP_X_WORKSPACE="acme").json()["slug"] == "acme"
    foreign = client.get("/api/v1/workspace/", HTTP_X_WORKSPACE="globex")
    assert foreign.status_code == 404
    assert "globex" not in foreign.content.decode().lower().replace("x-workspace", "")


def test_apikey_command_prints_a_working_key(workspace):
    out, err = io.StringIO(), io.StringIO()

    call_command("apikey", "create", "--workspace", "acme", "--name", "CI", stdout=out, stderr=err)

    raw_key = out.getvalue().strip()
    assert bearer(raw_key).get("/api/v1/workspace/").json()["name"] == "Acme"
    assert "not shown again" in err.getvalue()


def test_apikey_command_names_an_unknown_workspace(db):
    with pytest.raises(CommandError, match="No workspace with the slug 'nope'"):
        call_command("apikey", "create", "--workspace", "nope")


def test_apikey_command_lists_and_revokes(workspace):
    issued = api_key_create(workspace=workspace, name="ops")
    out = io.StringIO()

    call_command("apikey", "revoke", "--workspace", "acme", issued.api_key.prefix, stdout=out)
    call_command("apikey", "list", "--workspace", "acme", stdout=out)

    assert "revoked" in out.getvalue()
    assert bearer(issued.raw_key).get("/api/v1/workspace/").status_code == 401


def test_openapi_schema_describes_bearer_keys(db):
    response = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    schema = response.json()
    assert "/api/v1/workspace/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["workspaceApiKey"]["scheme"] == "bearer"
    assert {"workspaceApiKey": []} in schema["paths"]["/api/v1/workspace/"]["get"]["security"]
