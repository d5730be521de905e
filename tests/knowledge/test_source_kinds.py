"""Every kind of source, end to end: stored, synced, searchable. Real database and HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from knowledge.models import Article, SourceKind, SourceStatus
from knowledge.selectors import knowledge_search
from knowledge.services import source_create, source_sync, source_upload_store

pytestmark = pytest.mark.django_db

ZENDESK = {
    "articles": [
        {
            "id": 360001,
            "title": "Change your billing email",
            "body": "<p>Go to <b>Settings &gt; Billing</b> and edit the billing email.</p>",
            "html_url": "https://help.acme.example/hc/en-us/articles/360001",
            "locale": "en-us",
        },
        {
            "id": 360002,
            "title": "Alterar o e-mail de cobrança",
            "body": "<p>Vá em <b>Configurações &gt; Cobrança</b> e edite o e-mail.</p>",
            "html_url": "https://help.acme.example/hc/pt-br/articles/360002",
            "locale": "pt-br",
        },
    ]
}
OPENAPI = """
openapi: 3.0.3
info: {title: Acme API, version: "1"}
paths:
  /invoices/{id}:
    get:
      summary: Get an invoice
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}, description: Invoice id}
      responses:
        "200": {description: The invoice}
        "404": {description: No such invoice}
"""
TICKETS = [
    {
        "id": 7,
        "subject": "Webhook returns 500",
        "messages": [
            "Our endpoint at ops@acme.example keeps failing, call me at +1 415 555 0100",
            "Card 4111 1111 1111 1111 was charged twice",
        ],
        "resolution": "The endpoint timed out after 10 seconds; answering 200 first fixed it.",
    },
    {"id": 8, "subject": "Still open", "messages": ["Help?"], "resolution": ""},
]


def upload(workspace, kind: SourceKind, name: str, filename: str, content: bytes):
    source = source_upload_store(
        workspace=workspace,
        kind=kind,
        name=name,
        upload=SimpleUploadedFile(filename, content),
    )
    return source_sync(source=source)


def test_zendesk_export_becomes_articles_with_links_and_locales(workspace):
    source = upload(
        workspace, SourceKind.ZENDESK, "Zendesk", "articles.json", json.dumps(ZENDESK).encode()
    )

    assert source.status == SourceStatus.READY
    portuguese = Article.objects.get(source=source, external_id="360002")
    assert portuguese.locale == "pt-br"
    assert portuguese.url == "https://help.acme.example/hc/pt-br/articles/360002"
    result = knowledge_search(workspace_id=workspace.pk, query="Como alterar o e-mail de cobrança?")
    assert result.articles[0] == "360002"


def test_openapi_operation_is_searchable(workspace):
    source = upload(workspace, SourceKind.OPENAPI, "API", "openapi.yaml", OPENAPI.encode())

    article = Article.objects.get(source=source)
    assert article.external_id == "GET /invoices/{id}"
    assert article.title == "Get an invoice"
    assert "404" in article.content and "Invoice id" in article.content
    hit = knowledge_search(workspace_id=workspace.pk, query="what does the invoice API return")
    assert hit.articles[0] == "GET /invoices/{id}"


def test_only_resolved_tickets_become_articles_and_personal_data_is_scrubbed(workspace):
    source = upload(
        workspace, SourceKind.TICKETS, "Tickets", "t.json", json.dumps(TICKETS).encode()
    )

    article = Article.objects.get(source=source)
    assert article.external_id == "ticket-7"
    assert "answering 200 first fixed it" in article.content
    for secret in ("ops@acme.example", "415 555 0100", "4111 1111 1111 1111"):
        assert secret not in article.content
        assert not article.chunks.filter(text__contains=secret).exists()
    assert "[email]" in article.content and "[card]" in article.content


@pytest.fixture
def local_site(tmp_path) -> Iterator[str]:
    (tmp_path / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    (tmp_path / "index.html").write_text(
        "<html><head><title>Acme Help</title></head><body><h1>Acme Help</h1>"
        "<p>Start here.</p><a href='/sso.html'>SSO</a> "
        "<a href='/private/x.html'>x</a></body></html>"
    )
    (tmp_path / "sso.html").write_text(
        "<html><head><title>Single sign-on</title></head><body><h1>Single sign-on</h1>"
        "<h2>Okta</h2><p>Paste the SAML metadata URL from Okta into Settings &gt; SSO.</p>"
        "</body></html>"
    )
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "x.html").write_text("<html><body>Salaries</body></html>")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def test_website_is_crawled_within_robots_rules(workspace, local_site):
    source = source_create(
        workspace=workspace,
        kind=SourceKind.WEBSITE,
        name="Site",
        settings_={"start_url": local_site, "max_pages": 10},
    )

    source = source_sync(source=source)

    assert source.status == SourceStatus.READY
    assert sorted(source.articles.values_list("title", flat=True)) == [
        "Acme Help",
        "Single sign-on",
    ]
    sso = source.articles.get(title="Single sign-on")
    assert sso.chunks.get().heading_path == "Okta"
    assert sso.url.endswith("/sso.html")


def test_unreachable_website_fails_the_sync_with_a_reason(workspace):
    source = source_create(
        workspace=workspace,
        kind=SourceKind.WEBSITE,
        name="Gone",
        settings_={"start_url": "http://127.0.0.1:1/", "max_pages": 5},
    )

    source = source_sync(source=source)

    assert source.status == SourceStatus.FAILED
    assert source.last_error


@pytest.mark.parametrize(
    ("kind", "filename", "content", "message"),
    [
        (
            SourceKind.UPLOAD,
            "virus.exe",
            b"MZ",
            "is not a supported file for this kind of source: use .md",
        ),
        (SourceKind.ZENDESK, "export.csv", b"a,b", "use .json"),
        (SourceKind.UPLOAD, "empty.md", b"", "The file is empty."),
    ],
)
def test_wrong_uploads_are_refused_with_a_clear_message(
    workspace, kind, filename, content, message
):
    with pytest.raises(ValidationError, match=message):
        source_upload_store(
            workspace=workspace, kind=kind, name="X", upload=SimpleUploadedFile(filename, content)
        )
    assert not workspace.sources.exists()


def test_upload_over_the_size_limit_is_refused(workspace, settings):
    settings.KNOWLEDGE_MAX_UPLOAD_BYTES = 2048

    with pytest.raises(ValidationError, match=r"the limit is 0\.0 MB"):
        source_upload_store(
            workspace=workspace,
            kind=SourceKind.UPLOAD,
            name="Big",
            upload=SimpleUploadedFile("big.md", b"# Big\n\n" + b"word " * 1000),
        )


def test_corrupt_zendesk_export_fails_without_touching_what_is_indexed(workspace):
    source = upload(
        workspace, SourceKind.ZENDESK, "Zendesk", "articles.json", json.dumps(ZENDESK).encode()
    )
    source = source_upload_store(
        workspace=workspace,
        kind=SourceKind.ZENDESK,
        name="Zendesk",
        upload=SimpleUploadedFile("articles.json", b"{not json"),
    )

    source = source_sync(source=source)

    assert source.status == SourceStatus.FAILED
    assert "JSON" in source.last_error
    assert source.articles.count() == 2
