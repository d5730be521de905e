"""REST API of the knowledge base, with workspace API keys and console sessions."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from console.services import api_key_create
from knowledge.models import Source, SourceStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(django_capture_on_commit_callbacks):
    """`with jobs():` runs the sync jobs a request queued on commit, as the worker would.

    Tests run inside a transaction, so nothing commits by itself.
    """
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def api(workspace) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(workspace=workspace, name='t').raw_key}"
    )
    return client


def markdown_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Guide/Webhooks.md", "# Webhooks\n\n## Retries\n\nWe retry 8 times.\n")
        archive.writestr("Guide/__MACOSX/._junk", b"\x00\x01")
    return buffer.getvalue()


def upload_guide(api, jobs) -> dict:
    with jobs():
        response = api.post(
            "/api/v1/knowledge/sources/",
            {
                "kind": "upload",
                "name": "Guide",
                "file": SimpleUploadedFile("g.zip", markdown_zip()),
            },
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    return response.json()


def test_upload_creates_a_source_that_syncs_in_the_background(api, jobs):
    created = upload_guide(api, jobs)

    assert created["status"] == SourceStatus.QUEUED
    listing = api.get("/api/v1/knowledge/sources/").json()
    assert [(s["name"], s["status"], s["articles"]) for s in listing] == [
        ("Guide", SourceStatus.READY, 1)
    ]
    articles = api.get("/api/v1/knowledge/articles/").json()
    assert articles["count"] == 1
    assert articles["results"][0]["external_id"] == "Guide/Webhooks.md"
    detail = api.get(f"/api/v1/knowledge/articles/{articles['results'][0]['id']}/").json()
    assert "We retry 8 times." in detail["content"]


def test_search_returns_ranked_results_with_provenance(api, jobs):
    upload_guide(api, jobs)

    response = api.get("/api/v1/knowledge/search/", {"q": "how many times do you retry?"})

    results = response.json()["results"]
    assert results[0]["title"] == "Webhooks"
    assert results[0]["heading_path"] == "Retries"
    assert "embedding" in results[0]["found_by"]


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"kind": "upload", "name": "X"}, "file", "Send the file as multipart form data."),
        ({"kind": "folder", "name": "X"}, "kind", '"folder" is not a valid choice.'),
        ({"kind": "website", "name": "X", "start_url": "ftp://x"}, "start_url", "http(s)://"),
        ({"kind": "website", "name": ""}, "name", "This field may not be blank."),
    ],
)
def test_bad_source_input_gets_a_clear_400(api, payload, field, message):
    response = api.post("/api/v1/knowledge/sources/", payload, format="json")

    assert response.status_code == 400
    assert message in str(response.json()[field])
    assert not Source.objects.exists()


def test_upload_of_an_unknown_type_or_over_the_limit_is_refused(api, settings):
    exe = api.post(
        "/api/v1/knowledge/sources/",
        {"kind": "upload", "name": "X", "file": SimpleUploadedFile("tool.exe", b"MZ\x90")},
        format="multipart",
    )
    settings.KNOWLEDGE_MAX_UPLOAD_BYTES = 1024
    big = api.post(
        "/api/v1/knowledge/sources/",
        {
            "kind": "upload",
            "name": "Y",
            "file": SimpleUploadedFile("big.md", b"# A\n" + b"x" * 2000),
        },
        format="multipart",
    )

    assert exe.status_code == 400 and "'tool.exe' is not a supported file" in str(
        exe.json()["file"]
    )
    assert big.status_code == 400 and "the limit is 0.0 MB" in str(big.json()["file"])
    assert not Source.objects.exists()


def test_sync_and_delete(api, jobs):
    created = upload_guide(api, jobs)

    with jobs():
        synced = api.post(f"/api/v1/knowledge/sources/{created['id']}/sync/")
    deleted = api.delete(f"/api/v1/knowledge/sources/{created['id']}/")

    assert synced.status_code == 202 and synced.json()["status"] == SourceStatus.QUEUED
    assert deleted.status_code == 204
    assert api.get("/api/v1/knowledge/articles/").json()["count"] == 0


def test_another_workspaces_sources_and_articles_are_404(api, jobs, other_workspace):
    theirs = APIClient()
    theirs.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(workspace=other_workspace, name='o').raw_key}"
    )
    created = upload_guide(api, jobs)
    article_id = api.get("/api/v1/knowledge/articles/").json()["results"][0]["id"]

    assert theirs.get(f"/api/v1/knowledge/sources/{created['id']}/").status_code == 404
    assert theirs.delete(f"/api/v1/knowledge/sources/{created['id']}/").status_code == 404
    assert theirs.get(f"/api/v1/knowledge/articles/{article_id}/").status_code == 404
    assert theirs.get("/api/v1/knowledge/search/", {"q": "retry"}).json()["results"] == []
    assert Source.objects.filter(pk=created["id"]).exists()


def test_viewer_session_can_search_but_not_create(viewer):
    client = APIClient()
    client.force_login(viewer)

    listing = client.get("/api/v1/knowledge/sources/", HTTP_X_WORKSPACE="acme")
    create = client.post(
        "/api/v1/knowledge/sources/",
        {"kind": "website", "name": "Site", "start_url": "https://example.com"},
        format="json",
        HTTP_X_WORKSPACE="acme",
    )

    assert listing.status_code == 200
    assert create.status_code == 403
    assert create.json() == {"detail": "Only admins of this workspace can change it."}


def test_search_validates_its_parameters(api):
    assert api.get("/api/v1/knowledge/search/").status_code == 400
    too_many = api.get("/api/v1/knowledge/search/", {"q": "x", "k": 500})
    assert too_many.status_code == 400 and "k" in too_many.json()
    assert (
        api.get("/api/v1/knowledge/search/", {"q": "x", "language": "'; drop"}).status_code == 400
    )
