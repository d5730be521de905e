"""The console's Knowledge pages: sources and their syncs, articles, and the search playground."""

from __future__ import annotations

import html
import io
import zipfile
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile

from console.consumers import render_live_fragment
from console.routing import websocket_urlpatterns
from knowledge.models import Article, Source, SourceKind, SourceStatus
from knowledge.services import source_create, source_sync, source_sync_request
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

RESET_MD = b"""# Reset your password

Click "Forgot password" on the sign-in page and enter your work email.

## If the email never arrives

Wait five minutes, then look in your spam folder. The link works once.
"""

BILLING_MD = b"""# Billing and invoices

## Invoices

Download every invoice as a PDF from Settings > Billing > Invoices.

## Refunds

Annual plans are refunded in full within 14 days of purchase.
"""

SENHA_MD = """# Redefinir sua senha

Clique em "Esqueci minha senha" na página de login e informe seu e-mail de trabalho.
""".encode()


@pytest.fixture(autouse=True)
def upload_dir(settings, tmp_path) -> Path:
    settings.KNOWLEDGE_UPLOAD_DIR = tmp_path / "uploads"
    return settings.KNOWLEDGE_UPLOAD_DIR


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """The test runs in a transaction that never commits: run what waits for the commit (the
    sync task, which Celery runs in-process here, and its broadcasts) when the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def help_center(workspace, tmp_path) -> Source:
    """A synced folder source with three small articles (two English, one Portuguese)."""
    folder = tmp_path / "help"
    (folder / "en").mkdir(parents=True)
    (folder / "pt").mkdir()
    (folder / "en" / "reset-password.md").write_bytes(RESET_MD)
    (folder / "en" / "billing.md").write_bytes(BILLING_MD)
    (folder / "pt" / "redefinir-senha.md").write_bytes(SENHA_MD)
    source = source_create(
        workspace=workspace, kind=SourceKind.FOLDER, name="Help", settings_={"path": str(folder)}
    )
    return source_sync(source=source)


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --- sources list ------------------------------------------------------------------------------


def test_sources_list_shows_status_progress_and_errors(viewer, workspace):
    syncing = source_create(workspace=workspace, kind="upload", name="Manuals", settings_={})
    Source.objects.filter(pk=syncing.pk).update(
        status=SourceStatus.SYNCING,
        processed=3,
        total=10,
        file_errors=[{"external_id": "en/broken.pdf", "reason": "Not a readable PDF."}],
    )
    failed = source_create(workspace=workspace, kind="zendesk", name="Zendesk", settings_={})
    Source.objects.filter(pk=failed.pk).update(
        status=SourceStatus.FAILED, last_error="The export is not JSON."
    )

    response = client_for(viewer).get("/w/acme/knowledge/")

    page = text_of(response)
    assert response.status_code == 200
    assert 'ws-connect="/ws/w/acme/live/"' in page
    assert f'<tr id="source-{syncing.pk}">' in page
    assert "Syncing" in page
    assert 'value="3" max="10" aria-label="3/10 articles"' in page
    assert "1 file could not be read" in page
    assert "en/broken.pdf" in page and "Not a readable PDF." in page
    assert "Failed" in page and "The export is not JSON." in page
    assert "never" in page  # neither has synced yet


def test_knowledge_is_a_built_section_highlighted_on_its_subpages(viewer):
    page = client_for(viewer).get("/w/acme/knowledge/articles/").content.decode()

    assert 'href="/w/acme/knowledge/" aria-current="true">Knowledge<' in page
    assert "This page is not built yet." not in page


# --- adding sources ----------------------------------------------------------------------------


def test_admin_uploads_a_zip_and_sees_the_source_ready_with_its_articles(
    admin, workspace, run_on_commit
):
    client = client_for(admin)
    upload = SimpleUploadedFile(
        "help.zip", zip_of({"reset-password.md": RESET_MD, "billing.md": BILLING_MD})
    )

    with run_on_commit():
        response = client.post(
            "/w/acme/knowledge/sources/new/upload/", {"name": "Help center", "file": upload}
        )
    response = client.get(response["Location"])

    page = text_of(response)
    assert "Added “Help center”. Its sync has started." in page
    source = Source.objects.get(workspace=workspace, name="Help center")
    assert source.status == SourceStatus.READY
    assert "Ready" in page and 'aria-label="2/2 articles"' in page
    articles = text_of(client.get(f"/w/acme/knowledge/articles/?source={source.pk}"))
    assert "Reset your password" in articles and "Billing and invoices" in articles
    assert "2 articles" in articles


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("setup.exe", b"MZ\x90\x00", "'setup.exe' is not a supported file"),
        ("empty.md", b"", "The file is empty."),
        ("big.md", b"# Big\n\n" + b"words " * 400, "the limit is"),
    ],
)
def test_a_bad_upload_shows_why_and_keeps_the_name(
    admin, workspace, settings, filename, content, message
):
    settings.KNOWLEDGE_MAX_UPLOAD_BYTES = 1024

    response = client_for(admin).post(
        "/w/acme/knowledge/sources/new/upload/",
        {"name": "My docs", "file": SimpleUploadedFile(filename, content)},
    )

    page = text_of(response)
    assert response.status_code == 400
    assert message in page
    assert 'value="My docs"' in page
    assert 'aria-invalid="true"' in page
    assert "choose it again" in page
    assert not Source.objects.filter(workspace=workspace).exists()


def test_upload_without_a_file_or_a_name_says_what_is_missing(admin, workspace):
    client = client_for(admin)

    no_file = client.post("/w/acme/knowledge/sources/new/openapi/", {"name": "API"})
    no_name = client.post(
        "/w/acme/knowledge/sources/new/upload/",
        {"name": "  ", "file": SimpleUploadedFile("a.md", b"# A\n\nText.")},
    )

    assert no_file.status_code == 400 and "Choose a file to upload." in text_of(no_file)
    assert 'value="API"' in text_of(no_file)
    assert no_name.status_code == 400 and "Give the source a name." in text_of(no_name)
    assert not Source.objects.filter(workspace=workspace).exists()


def test_a_duplicate_name_is_refused(admin, workspace):
    source_create(workspace=workspace, kind="upload", name="Help", settings_={})

    response = client_for(admin).post(
        "/w/acme/knowledge/sources/new/upload/",
        {"name": "Help", "file": SimpleUploadedFile("a.md", b"# A\n\nText.")},
    )

    assert response.status_code == 400
    assert "This workspace already has a source named 'Help'." in text_of(response)
    assert Source.objects.filter(workspace=workspace).count() == 1


def test_a_website_needs_an_http_url_and_a_sane_page_limit(admin, workspace):
    client = client_for(admin)

    bad_url = client.post(
        "/w/acme/knowledge/sources/new/website/",
        {"name": "Docs site", "start_url": "ftp://docs.example.com", "max_pages": "20"},
    )
    bad_limit = client.post(
        "/w/acme/knowledge/sources/new/website/",
        {"name": "Docs site", "start_url": "https://docs.example.com/", "max_pages": "0"},
    )

    assert bad_url.status_code == 400
    page = text_of(bad_url)
    assert "Give a start URL or sitemap URL starting with http(s)://." in page
    assert 'value="ftp://docs.example.com"' in page and 'value="Docs site"' in page
    assert bad_limit.status_code == 400
    assert "Ensure this value is greater than or equal to 1." in text_of(bad_limit)
    assert not Source.objects.filter(workspace=workspace).exists()


def test_a_website_source_is_created_with_its_start_url_and_limit(admin, workspace, run_on_commit):
    # Port 9 (discard) refuses at once: the sync ends quickly without reaching the internet.
    with run_on_commit():
        response = client_for(admin).post(
            "/w/acme/knowledge/sources/new/website/",
            {"name": "Docs site", "start_url": "http://127.0.0.1:9/", "max_pages": "20"},
        )

    assert response.status_code == 302
    source = Source.objects.get(workspace=workspace, name="Docs site")
    assert source.kind == SourceKind.WEBSITE
    assert source.settings == {"start_url": "http://127.0.0.1:9/", "max_pages": 20}
    assert source.status not in (SourceStatus.NEW, SourceStatus.QUEUED, SourceStatus.SYNCING)


def test_each_kind_has_its_form_and_unknown_kinds_are_404(admin):
    client = client_for(admin)

    tickets = client.get("/w/acme/knowledge/sources/new/tickets/").content.decode()

    assert 'accept=".csv,.json"' in tickets
    assert '<label for="id_file">File</label>' in tickets
    assert client.get("/w/acme/knowledge/sources/new/folder/").status_code == 404
    assert client.get("/w/acme/knowledge/sources/new/nonsense/").status_code == 404


# --- sync and delete ---------------------------------------------------------------------------


def test_sync_of_a_source_whose_file_is_gone_shows_the_failure(
    admin, workspace, tmp_path, run_on_commit
):
    source = source_create(
        workspace=workspace,
        kind="upload",
        name="Old upload",
        settings_={"path": str(tmp_path / "gone" / "a.md")},
    )
    client = client_for(admin)

    with run_on_commit():
        response = client.post(f"/w/acme/knowledge/sources/{source.pk}/sync/")
    response = client.get(response["Location"])

    page = text_of(response)
    assert "Sync of “Old upload” requested." in page
    assert "Failed" in page and "The source's files are gone" in page
    source.refresh_from_db()
    assert source.status == SourceStatus.FAILED


def test_delete_asks_first_then_removes_the_source_and_its_articles(admin, workspace, help_center):
    client = client_for(admin)
    listing = text_of(client.get("/w/acme/knowledge/"))
    assert "Delete “Help” and its 3 articles? Answers stop using them." in listing
    # Deleting needs a POST from the confirmation; following a link cannot delete.
    assert client.get(f"/w/acme/knowledge/sources/{help_center.pk}/delete/").status_code == 405

    response = client.post(f"/w/acme/knowledge/sources/{help_center.pk}/delete/", follow=True)

    assert "Deleted “Help” and its articles." in text_of(response)
    assert not Source.objects.filter(pk=help_center.pk).exists()
    assert not Article.objects.filter(workspace=workspace).exists()
    assert "No sources yet." in text_of(response)


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_members_who_are_not_admins_see_but_cannot_change_sources(request, role, workspace):
    member = request.getfixturevalue(role)
    source = source_create(workspace=workspace, kind="upload", name="Help", settings_={})
    client = client_for(member)

    listing = client.get("/w/acme/knowledge/").content.decode()
    add_page = client.get("/w/acme/knowledge/sources/new/upload/")
    add = client.post(
        "/w/acme/knowledge/sources/new/upload/",
        {"name": "Sneaky", "file": SimpleUploadedFile("a.md", b"# A\n\nText.")},
    )
    sync = client.post(f"/w/acme/knowledge/sources/{source.pk}/sync/")
    delete = client.post(f"/w/acme/knowledge/sources/{source.pk}/delete/")

    assert "Help" in listing and "Only admins add, sync or delete sources." in listing
    assert "Add a source" not in listing and ">Sync<" not in listing and "Delete" not in listing
    assert (add_page.status_code, add.status_code) == (403, 403)
    assert (sync.status_code, delete.status_code) == (403, 403)
    assert "This page is for Admin of Acme." in delete.content.decode()
    source.refresh_from_db()
    assert source.status == SourceStatus.NEW
    assert list(Source.objects.filter(workspace=workspace)) == [source]
    assert client.get("/w/acme/knowledge/search/").status_code == 200


def test_outsiders_get_404_for_the_pages_sources_and_articles(
    outsider, admin, workspace, help_center
):
    article = help_center.articles.first()
    outsider_client = client_for(outsider)
    for url in [
        "/w/acme/knowledge/",
        "/w/acme/knowledge/articles/",
        f"/w/acme/knowledge/articles/{article.pk}/",
        "/w/acme/knowledge/search/?q=invoice",
        f"/w/acme/knowledge/sources/{help_center.pk}/row/",
    ]:
        assert outsider_client.get(url).status_code == 404, url
    assert (
        outsider_client.post(f"/w/acme/knowledge/sources/{help_center.pk}/sync/").status_code == 404
    )

    # Acme's ids do not work through the outsider's own workspace either.
    for url in [
        f"/w/globex/knowledge/articles/{article.pk}/",
        f"/w/globex/knowledge/sources/{help_center.pk}/row/",
    ]:
        assert outsider_client.get(url).status_code == 404, url
    for url in [
        f"/w/globex/knowledge/sources/{help_center.pk}/sync/",
        f"/w/globex/knowledge/sources/{help_center.pk}/delete/",
    ]:
        assert outsider_client.post(url).status_code == 404, url
    assert Source.objects.filter(pk=help_center.pk, status=SourceStatus.READY).exists()


# --- articles ----------------------------------------------------------------------------------


def test_articles_search_filters_by_title_or_external_id(viewer, help_center):
    client = client_for(viewer)

    by_title = text_of(client.get("/w/acme/knowledge/articles/?q=billing"))
    by_id = text_of(client.get("/w/acme/knowledge/articles/?q=pt/"))

    assert "Billing and invoices" in by_title and "Reset your password" not in by_title
    assert "1 article matching “billing”" in by_title
    assert "Redefinir sua senha" in by_id and "Billing and invoices" not in by_id


def test_htmx_article_search_returns_only_the_results_region(viewer, help_center):
    response = client_for(viewer).get("/w/acme/knowledge/articles/?q=reset", HTTP_HX_REQUEST="true")

    page = text_of(response)
    assert "<html" not in page and "<h1>" not in page
    assert "Reset your password" in page and "Billing and invoices" not in page
    assert "HX-Request" in response["Vary"]


def test_articles_page_has_a_live_search_that_works_without_javascript(viewer, help_center):
    page = client_for(viewer).get("/w/acme/knowledge/articles/").content.decode()

    assert 'hx-trigger="input changed delay:300ms"' in page
    assert 'id="article-results" class="results" aria-live="polite"' in page
    assert '<form method="get" action="/w/acme/knowledge/articles/"' in page
    assert '<label for="id_q">Search by title or external id</label>' in page


def test_articles_filter_by_source_and_ignore_a_foreign_source(
    viewer, workspace, other_workspace, help_center
):
    other = source_create(workspace=workspace, kind="upload", name="Other", settings_={})
    Article.objects.create(
        workspace=workspace, source=other, external_id="x", title="Lonely", content="x"
    )
    foreign = source_create(workspace=other_workspace, kind="upload", name="Theirs", settings_={})
    client = client_for(viewer)

    only_other = text_of(client.get(f"/w/acme/knowledge/articles/?source={other.pk}"))
    with_foreign = text_of(client.get(f"/w/acme/knowledge/articles/?source={foreign.pk}"))

    assert "Lonely" in only_other and "Billing and invoices" not in only_other
    assert "That source is not in this workspace" in with_foreign
    assert "Theirs" not in with_foreign
    assert "4 articles" in with_foreign


def test_articles_are_paginated_by_50(viewer, workspace):
    source = source_create(workspace=workspace, kind="upload", name="Many", settings_={})
    Article.objects.bulk_create(
        Article(
            workspace=workspace,
            source=source,
            external_id=f"a{n:03}",
            title=f"Article {n:03}",
            content="x",
        )
        for n in range(51)
    )
    client = client_for(viewer)

    first = text_of(client.get("/w/acme/knowledge/articles/?q=article"))
    second = text_of(client.get("/w/acme/knowledge/articles/?q=article&page=2"))

    assert "51 articles matching “article” · page 1 of 2." in first
    assert "Article 049" in first and "Article 050" not in first
    assert 'href="/w/acme/knowledge/articles/?q=article&page=2"' in first
    assert "Article 050" in second and "Article 000" not in second


def test_article_detail_shows_content_and_chunks(viewer, help_center):
    article = help_center.articles.get(external_id="en/reset-password.md")

    page = text_of(client_for(viewer).get(f"/w/acme/knowledge/articles/{article.pk}/"))

    assert "<h1" in page and "Reset your password</h1>" in page
    assert 'Click "Forgot password" on the sign-in page' in page
    assert "en/reset-password.md" in page
    assert "<dt>Locale</dt><dd>en</dd>" in page and "<dt>Version</dt><dd>1</dd>" in page
    assert 'data-label="Heading path">If the email never arrives<' in page
    assert 'data-label="Position">0<' in page


# --- search playground -------------------------------------------------------------------------


def test_playground_ranks_passages_and_says_which_retriever_found_them(viewer, help_center):
    response = client_for(viewer).get(
        "/w/acme/knowledge/search/", {"q": "where can I download my invoice pdf?"}
    )

    page = text_of(response)
    first = page.split('<li class="hit">')[1]
    assert "#1" in first and "Billing and invoices</a>" in first
    assert "Invoices" in first and "Download every invoice as a PDF" in first
    assert "embedding #1 (" in first and "keyword #" in first
    assert "Cosine similarity" in first and "Fused score" in first
    assert 'data-testid="query-language">English<' in page
    assert " ms</span>" in page


def test_playground_takes_a_language_and_answers_htmx_with_the_results_only(viewer, help_center):
    response = client_for(viewer).get(
        "/w/acme/knowledge/search/",
        {"q": "esqueci minha senha", "language": "pt"},
        HTTP_HX_REQUEST="true",
    )

    page = text_of(response)
    assert "<html" not in page
    assert 'data-testid="query-language">Portuguese<' in page
    assert page.split('<li class="hit">')[1].count("Redefinir sua senha") == 1


def test_playground_without_a_question_invites_one(viewer):
    page = client_for(viewer).get("/w/acme/knowledge/search/").content.decode()

    assert "Type a question to see the ranked passages." in page
    assert 'id="search-results" class="results" aria-live="polite"' in page
    assert '<option value="pt">Portuguese</option>' in page


# --- live updates ------------------------------------------------------------------------------


def progress_event(**changes) -> dict:
    event = {
        "type": "source.progress",
        "source_id": 7,
        "name": "Help",
        "status": "syncing",
        "status_label": "Syncing",
        "processed": 3,
        "total": 10,
        "percent": 30,
        "failed_files": 0,
        "last_error": "",
    }
    return {**event, **changes}


def live_fragment(event: dict) -> str:
    fragment = render_live_fragment(event)
    assert fragment is not None, "source.progress events need templates/live/source.progress.html"
    return fragment


def test_live_progress_fragment_swaps_the_rows_status_and_progress_cells():
    fragment = live_fragment(progress_event())

    assert '<td id="source-7-status"' in fragment and '<td id="source-7-progress"' in fragment
    assert fragment.count('hx-swap-oob="true"') == 2
    assert 'value="3" max="10" aria-label="3/10 articles"' in fragment
    assert ">Syncing<" in fragment
    # The row is fetched again, and screen readers told, only when the sync ends.
    assert "hx-get" not in fragment and "knowledge-announcer" not in fragment


def test_live_fragment_of_an_ended_sync_refreshes_the_row_and_escapes_errors():
    fragment = live_fragment(
        progress_event(status="failed", status_label="Failed", last_error="<b>bad</b> zip")
    )

    assert 'hx-get="sources/7/row/" hx-trigger="load" hx-target="#source-7"' in fragment
    assert "&lt;b&gt;bad&lt;/b&gt; zip" in fragment and "<b>" not in fragment
    assert (
        '<div id="knowledge-announcer" hx-swap-oob="innerHTML">Help: Failed, 3/10 articles.'
        in fragment
    )


def test_the_row_endpoint_renders_the_same_row_as_the_page(viewer, help_center):
    client = client_for(viewer)

    row = client.get(f"/w/acme/knowledge/sources/{help_center.pk}/row/").content.decode()
    page = client.get("/w/acme/knowledge/").content.decode()

    assert row.strip().startswith(f'<tr id="source-{help_center.pk}">')
    assert row.strip() in page


@pytest.mark.django_db(transaction=True)
async def test_a_sync_pushes_its_progress_to_the_sources_page_socket(admin, workspace, tmp_path):
    (tmp_path / "help").mkdir()
    (tmp_path / "help" / "reset.md").write_bytes(RESET_MD)
    source = await sync_to_async(source_create)(
        workspace=workspace,
        kind=SourceKind.FOLDER,
        name="Help",
        settings_={"path": str(tmp_path / "help")},
    )
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/w/acme/live/")
    socket.scope["user"] = admin
    try:
        assert (await socket.connect())[0]

        # Celery runs in-process in tests, so the whole sync happens in this call.
        await sync_to_async(source_sync_request)(source=source)

        frames: list[str] = []
        while not frames or "Ready" not in frames[-1]:
            frames.append(await socket.receive_from(timeout=30))
    finally:
        await socket.disconnect()
    assert all(f'<td id="source-{source.pk}-progress"' in frame for frame in frames)
    assert all('hx-swap-oob="true"' in frame for frame in frames)
    assert ">Queued<" in frames[0]
    assert 'aria-label="1/1 articles"' in frames[-1]
    assert f'hx-get="sources/{source.pk}/row/"' in frames[-1]
