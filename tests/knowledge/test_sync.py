"""Syncing a source: articles and chunks stored, re-sync skips, updates and removes."""

from __future__ import annotations

import shutil

import pytest

from knowledge.indexing import ArticleToIndex, IndexedPassage
from knowledge.models import Article, Chunk, SourceKind, SourceStatus
from knowledge.services import article_replace, source_create, source_delete, source_sync
from knowledge.sources.drafts import ArticleDraft

pytestmark = pytest.mark.django_db


def test_sync_stores_articles_with_heading_paths_and_locales(synced_source):
    assert synced_source.status == SourceStatus.READY
    assert (synced_source.processed, synced_source.total) == (3, 3)
    billing = Article.objects.get(source=synced_source, external_id="en/billing.md")
    assert billing.title == "Billing and invoices"
    assert Article.objects.get(external_id="pt/reset-password.md").locale == "pt"
    paths = list(billing.chunks.order_by("position").values_list("heading_path", flat=True))
    assert "Invoices" in paths and "Refunds" in paths
    invoice_chunk = billing.chunks.get(heading_path="Invoices")
    assert "Settings > Billing > Invoices" in invoice_chunk.text
    assert invoice_chunk.locale == "en" and len(invoice_chunk.embedding) == 384


def test_resync_skips_unchanged_updates_changed_and_removes_deleted(synced_source, help_center):
    billing = Article.objects.get(external_id="en/billing.md")
    password = Article.objects.get(external_id="en/reset-password.md")
    untouched_chunks = set(password.chunks.values_list("pk", flat=True))
    (help_center / "en" / "billing.md").write_text(
        "# Billing and invoices\n\n## Invoices\n\nInvoices now arrive by email every month.\n"
    )
    (help_center / "pt" / "reset-password.md").unlink()

    source = source_sync(source=synced_source)

    assert source.status == SourceStatus.READY
    password.refresh_from_db()
    assert password.version == 1
    assert set(password.chunks.values_list("pk", flat=True)) == untouched_chunks
    billing.refresh_from_db()
    assert billing.version == 2
    assert [c.text for c in billing.chunks.all()] == ["Invoices now arrive by email every month."]
    assert not Article.objects.filter(external_id="pt/reset-password.md").exists()
    assert not Chunk.objects.filter(article__external_id="pt/reset-password.md").exists()


def test_corrupt_pdf_fails_alone_and_keeps_its_old_version(synced_source, help_center):
    (help_center / "en" / "manual.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")

    source = source_sync(source=synced_source)

    assert source.status == SourceStatus.READY
    assert [error["external_id"] for error in source.file_errors] == ["en/manual.pdf"]
    assert source.file_errors[0]["reason"]
    assert source.articles.count() == 3


def test_a_file_that_breaks_later_keeps_its_indexed_version(synced_source, help_center):
    (help_center / "en" / "billing.md").write_bytes(b"# Billing\n\ncaf\xe9 \x81\x82 is not utf-8")

    source = source_sync(source=synced_source)

    assert any(e["external_id"] == "en/billing.md" for e in source.file_errors)
    billing = Article.objects.get(external_id="en/billing.md")
    assert billing.title == "Billing and invoices" and billing.chunks.exists()


def test_unreadable_source_fails_and_loses_nothing(synced_source, help_center):
    chunks_before = Chunk.objects.filter(article__source=synced_source).count()
    shutil.rmtree(help_center)

    source = source_sync(source=synced_source)

    assert source.status == SourceStatus.FAILED
    assert "gone" in source.last_error or "does not exist" in source.last_error
    assert Chunk.objects.filter(article__source=synced_source).count() == chunks_before


def test_chunks_are_replaced_in_one_transaction(synced_source):
    billing = Article.objects.get(external_id="en/billing.md")
    old_chunks = list(billing.chunks.values_list("text", flat=True))
    draft = ArticleDraft(external_id="en/billing.md", title="Billing", content="New text.")
    article = ArticleToIndex.from_draft(
        draft, workspace_id=billing.workspace_id, source_id=billing.source_id
    )
    good = IndexedPassage(position=0, heading_path="", text="New text.", embedding=[0.1] * 384)
    wrong_size = IndexedPassage(position=1, heading_path="", text="Broken.", embedding=[0.1] * 3)

    with pytest.raises(Exception, match="expected 384 dimensions"):
        article_replace(article=article, passages=[good, wrong_size])

    billing.refresh_from_db()
    assert billing.title == "Billing and invoices" and billing.version == 1
    assert list(billing.chunks.values_list("text", flat=True)) == old_chunks


def test_deleting_a_source_removes_its_articles_and_chunks(synced_source):
    source_delete(source=synced_source)

    assert not Article.objects.exists()
    assert not Chunk.objects.exists()


def test_duplicate_source_name_is_refused(synced_source, workspace):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="already has a source named 'Help'"):
        source_create(workspace=workspace, kind=SourceKind.FOLDER, name="Help", settings_={})
