"""Writes of the knowledge base: sources, syncing them, and replacing articles with their chunks."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone
from haystack import Document

from console.models import Workspace
from console.realtime import workspace_event_broadcast
from knowledge.indexing import ArticleToIndex, IndexedPassage
from knowledge.models import Article, Chunk, Source, SourceKind, SourceStatus
from knowledge.pipelines import indexing_pipeline
from knowledge.sources.drafts import ArticleDraft, SourceInputError, SourceReading
from knowledge.text_search import (
    FILL_POSTINGS_SQL,
    FILL_SEARCH_VECTORS_SQL,
    REFRESH_TERM_STATISTICS_SQL,
    language_of,
    search_config_for,
)

logger = logging.getLogger(__name__)

# Articles embedded per pipeline run: large enough to keep the embedder's batches full.
INDEXING_BATCH_CHUNK_BUDGET = 128
# How often a sync writes its progress (and pushes it to the console), at most.
PROGRESS_INTERVAL_SECONDS = 0.5

UPLOAD_KINDS = {
    SourceKind.UPLOAD: (".md", ".markdown", ".html", ".htm", ".pdf", ".txt", ".zip"),
    SourceKind.ZENDESK: (".json",),
    SourceKind.OPENAPI: (".json", ".yaml", ".yml"),
    SourceKind.TICKETS: (".csv", ".json"),
}


# --- sources -------------------------------------------------------------------------------


def source_create(
    *, workspace: Workspace, kind: SourceKind | str, name: str, settings_: dict[str, Any]
) -> Source:
    kind = SourceKind(kind)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the source a name."})
    if len(name) > 120:
        raise ValidationError({"name": "The name is too long (120 characters at most)."})
    if Source.objects.filter(workspace=workspace, name=name).exists():
        raise ValidationError({"name": f"This workspace already has a source named {name!r}."})
    if kind == SourceKind.WEBSITE:
        settings_ = _website_settings(settings_)
    return Source.objects.create(workspace=workspace, kind=kind, name=name, settings=settings_)


def _website_settings(settings_: dict[str, Any]) -> dict[str, Any]:
    from urllib.parse import urlsplit

    url = str(settings_.get("start_url") or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            {"start_url": "Give a start URL or sitemap URL starting with http(s)://."}
        )
    try:
        max_pages = int(settings_.get("max_pages") or 200)
    except (TypeError, ValueError):
        raise ValidationError({"max_pages": "The page limit must be a whole number."}) from None
    if not 1 <= max_pages <= 5000:
        raise ValidationError({"max_pages": "The page limit must be between 1 and 5000."})
    return {"start_url": url, "max_pages": max_pages}


def source_upload_store(
    *,
    workspace: Workspace,
    kind: SourceKind | str,
    name: str,
    upload: UploadedFile,
    must_be_new: bool = False,
) -> Source:
    """Store an uploaded file as a new source, or as a new version of the source of that name
    (unless `must_be_new`). The file is kept so that a later re-sync can read it again."""
    kind = SourceKind(kind)
    name = name.strip()
    if must_be_new and Source.objects.filter(workspace=workspace, name=name).exists():
        raise ValidationError({"name": f"This workspace already has a source named {name!r}."})
    if kind not in UPLOAD_KINDS:
        raise ValidationError({"kind": f"A {kind.label} source is not uploaded."})
    filename = Path(upload.name or "upload").name
    suffix = Path(filename).suffix.lower()
    if suffix not in UPLOAD_KINDS[kind]:
        allowed = ", ".join(UPLOAD_KINDS[kind])
        message = f"{filename!r} is not a supported file for this kind of source: use {allowed}."
        raise ValidationError({"file": message})
    limit = settings.KNOWLEDGE_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationError(
            {"file": f"The file is {_megabytes(upload.size)}; the limit is {_megabytes(limit)}."}
        )
    if not upload.size:
        raise ValidationError({"file": "The file is empty."})
    folder = Path(settings.KNOWLEDGE_UPLOAD_DIR) / str(workspace.pk) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    stored = folder / filename
    with stored.open("wb") as out:
        for piece in upload.chunks():
            out.write(piece)
    source = Source.objects.filter(workspace=workspace, name=name).first()
    if source is None:
        try:
            source = source_create(
                workspace=workspace, kind=kind, name=name or filename, settings_={}
            )
        except ValidationError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    elif source.kind != kind:
        shutil.rmtree(folder, ignore_errors=True)
        raise ValidationError({"name": f"{source.name!r} is a {source.get_kind_display()} source."})
    previous = source.settings.get("path")
    source.settings = {**source.settings, "path": str(stored), "filename": filename}
    source.save(update_fields=["settings"])
    if previous and Path(previous).parent != folder:
        # After commit: if this change rolls back, the source still points at the old file.
        old_folder = Path(previous).parent
        transaction.on_commit(lambda: shutil.rmtree(old_folder, ignore_errors=True))
    return source


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def source_sync_request(*, source: Source) -> Source:
    """Queue a sync; it runs in a Celery worker (in-process without REDIS_URL) after commit."""
    from knowledge.tasks import source_sync_task

    if source.status in (SourceStatus.QUEUED, SourceStatus.SYNCING):
        return source
    source.status = SourceStatus.QUEUED
    source.save(update_fields=["status"])
    _broadcast_progress(source)
    transaction.on_commit(lambda: source_sync_task.delay(source.pk))
    return source


def source_delete(*, source: Source) -> None:
    path = source.settings.get("path")
    kind = source.kind
    workspace_id = source.workspace_id
    source.delete()  # articles and chunks go with it (cascade, one transaction)
    transaction.on_commit(lambda: term_statistics_refresh(workspace_id=workspace_id))
    if path and kind != SourceKind.FOLDER:
        upload_root = Path(settings.KNOWLEDGE_UPLOAD_DIR).resolve()
        folder = Path(path).resolve().parent
        if upload_root in folder.parents:
            transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))


def source_read(source: Source) -> SourceReading:
    """Read everything the source holds now. Raises SourceInputError when it is unusable."""
    kind = SourceKind(source.kind)
    if kind == SourceKind.WEBSITE:
        from knowledge.sources.website import crawl_website

        return crawl_website(source.settings["start_url"], max_pages=source.settings["max_pages"])
    path = Path(source.settings.get("path") or "")
    if not source.settings.get("path") or not path.exists():
        raise SourceInputError(f"The source's files are gone ({path}); upload them again.")
    if kind in (SourceKind.UPLOAD, SourceKind.FOLDER):
        from knowledge.sources.files import read_upload

        return read_upload(path)
    data = path.read_bytes()
    if kind == SourceKind.ZENDESK:
        from knowledge.sources.zendesk import read_zendesk_export

        return read_zendesk_export(data)
    if kind == SourceKind.OPENAPI:
        from knowledge.sources.openapi import read_openapi_spec

        return read_openapi_spec(data)
    from knowledge.sources.tickets import read_tickets

    return read_tickets(data, path.name)


def source_sync(*, source: Source, on_progress: Callable[[Source], None] | None = None) -> Source:
    """Bring the source's articles in line with what it holds now.

    Unchanged articles (same content hash) are skipped; changed and new ones are re-indexed, each
    with its chunks in one transaction; articles that disappeared are removed. A file that cannot
    be read is listed in `file_errors` and its previously indexed version is kept. If the source
    as a whole cannot be read, nothing indexed is touched and the source is marked failed.
    """
    source.status = SourceStatus.SYNCING
    source.processed = source.total = 0
    source.last_error = ""
    source.save(update_fields=["status", "processed", "total", "last_error"])
    _report(source, on_progress)
    try:
        reading = source_read(source)
    except SourceInputError as error:
        return _sync_failed(source, str(error), on_progress)
    except Exception as error:  # a reader bug must not leave the source stuck "syncing"
        logger.exception("Reading source %s failed", source.pk)
        return _sync_failed(source, f"Could not read the source: {error}", on_progress)

    existing = dict(
        Article.objects.filter(source=source).values_list("external_id", "content_hash")
    )
    drafts = _unique_drafts(reading.drafts)
    source.total = len(drafts)
    source.file_errors = [
        {"external_id": failure.external_id, "reason": failure.reason}
        for failure in reading.failures
    ]
    source.save(update_fields=["total", "file_errors"])

    to_index: list[ArticleToIndex] = []
    last_report = time.monotonic()
    for draft in drafts:
        article = ArticleToIndex.from_draft(
            draft, workspace_id=source.workspace_id, source_id=source.pk
        )
        if existing.get(article.external_id) == article.content_hash:
            source.processed += 1
        else:
            to_index.append(article)
        if time.monotonic() - last_report > PROGRESS_INTERVAL_SECONDS:
            source.save(update_fields=["processed"])
            _report(source, on_progress)
            last_report = time.monotonic()

    try:
        for batch in _batches(to_index):
            articles_index(articles=batch)
            source.processed += len(batch)
            if time.monotonic() - last_report > PROGRESS_INTERVAL_SECONDS:
                source.save(update_fields=["processed"])
                _report(source, on_progress)
                last_report = time.monotonic()
    except Exception as error:
        logger.exception("Indexing source %s failed", source.pk)
        return _sync_failed(source, f"Indexing stopped: {error}", on_progress)

    # Keep the old version of an article whose file failed to read this time.
    keep = {draft.external_id for draft in drafts} | {f.external_id for f in reading.failures}
    Article.objects.filter(source=source).exclude(external_id__in=keep).delete()

    term_statistics_refresh(workspace_id=source.workspace_id)
    source.status = SourceStatus.READY
    source.last_synced_at = timezone.now()
    source.save(update_fields=["status", "processed", "last_synced_at"])
    _report(source, on_progress)
    return source


def _unique_drafts(drafts: list[ArticleDraft]) -> list[ArticleDraft]:
    seen: dict[str, ArticleDraft] = {}
    for draft in drafts:
        seen.setdefault(draft.external_id, draft)
    return list(seen.values())


def _batches(articles: list[ArticleToIndex]) -> Iterator[list[ArticleToIndex]]:
    batch: list[ArticleToIndex] = []
    budget = 0
    for article in articles:
        batch.append(article)
        budget += max(1, len(article.content.split()) // 150)
        if budget >= INDEXING_BATCH_CHUNK_BUDGET:
            yield batch
            batch, budget = [], 0
    if batch:
        yield batch


def _sync_failed(
    source: Source, error: str, on_progress: Callable[[Source], None] | None
) -> Source:
    source.status = SourceStatus.FAILED
    source.last_error = error
    source.save(update_fields=["status", "last_error"])
    _report(source, on_progress)
    return source


def _report(source: Source, on_progress: Callable[[Source], None] | None) -> None:
    if on_progress is not None:
        on_progress(source)
    _broadcast_progress(source)


def _broadcast_progress(source: Source) -> None:
    workspace_event_broadcast(
        workspace_id=source.workspace_id,
        event={
            "type": "source.progress",
            "source_id": source.pk,
            "name": source.name,
            "status": source.status,
            "status_label": SourceStatus(source.status).label,
            "processed": source.processed,
            "total": source.total,
            "percent": source.progress_percent,
            "failed_files": len(source.file_errors),
            "last_error": source.last_error,
        },
    )


# --- articles and chunks ---------------------------------------------------------------------


def articles_index(*, articles: list[ArticleToIndex]) -> None:
    """Clean, split, embed and store the articles (each atomically) through the pipeline."""
    documents = [
        Document(
            content=article.content,
            meta={"external_id": article.external_id, "title": article.title},
        )
        for article in articles
    ]
    indexing_pipeline().run({"cleaner": {"documents": documents}, "writer": {"articles": articles}})


@transaction.atomic
def article_replace(*, article: ArticleToIndex, passages: list[IndexedPassage]) -> Article:
    """Store the article and swap its chunks for `passages` in one transaction.

    Readers see the old chunks or the new ones, never a mix or none.
    """
    stored, created = Article.objects.select_for_update().get_or_create(
        source_id=article.source_id,
        external_id=article.external_id,
        defaults={
            "workspace_id": article.workspace_id,
            "title": article.title,
            "url": article.url,
            "locale": article.locale,
            "content": article.content,
            "content_hash": article.content_hash,
        },
    )
    if not created:
        stored.title, stored.url, stored.locale = article.title, article.url, article.locale
        stored.content, stored.content_hash = article.content, article.content_hash
        stored.version += 1
        stored.save()
        stored.chunks.all().delete()
    language = language_of(article.locale)
    Chunk.objects.bulk_create(
        Chunk(
            workspace_id=article.workspace_id,
            article=stored,
            position=passage.position,
            heading_path=passage.heading_path[:1000],
            text=passage.text,
            locale=language,
            embedding=passage.embedding,
        )
        for passage in passages
    )
    with connection.cursor() as cursor:
        cursor.execute(
            FILL_SEARCH_VECTORS_SQL,
            {
                "config": search_config_for(language),
                "title": article.title,
                "article_id": stored.pk,
            },
        )
        cursor.execute(FILL_POSTINGS_SQL, {"article_id": stored.pk})
    return stored


def term_statistics_refresh(*, workspace_id: int) -> None:
    """Recount the document frequencies BM25 uses, after the workspace's chunks changed."""
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in REFRESH_TERM_STATISTICS_SQL:
            cursor.execute(statement, {"workspace_id": workspace_id})


# --- demo ------------------------------------------------------------------------------------

DEMO_HELP_CENTER = Path(__file__).resolve().parent / "demo_content" / "help-center"
DEMO_SOURCE_NAME = "Quillboard help center"


def demo_help_center_sync(
    *, workspace: Workspace, on_progress: Callable[[Source], None] | None = None
) -> Source:
    """Load the demo help center (written for this project) into the workspace, idempotently."""
    source = Source.objects.filter(workspace=workspace, name=DEMO_SOURCE_NAME).first()
    if source is None:
        source = source_create(
            workspace=workspace,
            kind=SourceKind.FOLDER,
            name=DEMO_SOURCE_NAME,
            settings_={"path": str(DEMO_HELP_CENTER)},
        )
    return source_sync(source=source, on_progress=on_progress)
