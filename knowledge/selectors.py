"""Reads of the knowledge base, always scoped to a workspace."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet

from console.models import Workspace
from knowledge.language import detect_language
from knowledge.models import Article, Chunk, Source
from knowledge.pipelines import retrieval_pipeline
from knowledge.text_search import QUERY_COVERAGE_SQL, language_of, search_config_for


def sources_of_workspace(*, workspace: Workspace) -> QuerySet[Source]:
    return Source.objects.filter(workspace=workspace).order_by("name")


def source_of_workspace(*, workspace: Workspace, source_id: int) -> Source | None:
    return Source.objects.filter(workspace=workspace, pk=source_id).first()


def articles_of_workspace(
    *, workspace: Workspace, search: str = "", source_id: int | None = None
) -> QuerySet[Article]:
    articles = Article.objects.filter(workspace=workspace).select_related("source")
    if source_id is not None:
        articles = articles.filter(source_id=source_id)
    if search:
        articles = articles.filter(Q(title__icontains=search) | Q(external_id__icontains=search))
    return articles.defer("content").order_by("title", "pk")


def sources_with_article_counts(*, workspace: Workspace) -> QuerySet[Source]:
    """The workspace's sources, each annotated with `article_count`, for the console's list."""
    return sources_of_workspace(workspace=workspace).annotate(article_count=Count("articles"))


def source_with_article_count(*, workspace: Workspace, source_id: int) -> Source | None:
    return sources_with_article_counts(workspace=workspace).filter(pk=source_id).first()


def article_of_workspace(*, workspace: Workspace, article_id: int) -> Article | None:
    return (
        Article.objects.filter(workspace=workspace, pk=article_id).select_related("source").first()
    )


def chunks_of_article(*, article: Article) -> QuerySet[Chunk]:
    # The embedding and search vector are large and meaningless to a reader.
    return article.chunks.defer("embedding", "search_vector").order_by("position")


# A loose index scan: one index probe per distinct locale instead of reading every article.
DISTINCT_LOCALES_SQL = """
WITH RECURSIVE locales AS (
    SELECT min(locale) AS locale FROM knowledge_article WHERE workspace_id = %(workspace_id)s
    UNION ALL
    SELECT (SELECT min(locale) FROM knowledge_article
            WHERE workspace_id = %(workspace_id)s AND locale > locales.locale)
    FROM locales WHERE locales.locale IS NOT NULL
)
SELECT locale FROM locales WHERE locale IS NOT NULL
"""


def knowledge_languages(*, workspace_id: int) -> set[str]:
    """The languages of the workspace's articles (ISO 639-1), English when it has none."""
    with connection.cursor() as cursor:
        cursor.execute(DISTINCT_LOCALES_SQL, {"workspace_id": workspace_id})
        locales = [row[0] for row in cursor.fetchall()]
    return {language_of(locale) for locale in locales} or {"en"}


@dataclass(frozen=True)
class SearchHit:
    chunk_id: int
    article_id: int
    external_id: str
    title: str
    url: str
    heading_path: str
    locale: str
    text: str
    score: float  # fused (reciprocal rank) score of this chunk
    article_score: float
    found_by: dict[str, dict[str, Any]]  # {"embedding": {"rank": 1, "score": 0.71}, ...}

    @property
    def similarity(self) -> float | None:
        """Cosine similarity of the query and this chunk, when the embedding retriever saw it."""
        embedding = self.found_by.get("embedding")
        return float(embedding["score"]) if embedding else None


@dataclass(frozen=True)
class SearchResult:
    query: str
    language: str
    hits: list[SearchHit] = field(default_factory=list)
    took_ms: float = 0.0

    @property
    def articles(self) -> list[str]:
        """External ids of the distinct articles found, best first."""
        seen: dict[str, None] = {}
        for hit in self.hits:
            seen.setdefault(hit.external_id)
        return list(seen)


def knowledge_search(
    *,
    workspace_id: int,
    query: str,
    k: int = 5,
    language: str | None = None,
    only_language: bool = False,
) -> SearchResult:
    """The `k` best articles for `query` (each with up to two passages), hybrid retrieval.

    `language` is the query's language; when not given it is detected among the workspace's
    article languages. With `only_language`, only chunks in that language are searched.
    """
    started = time.perf_counter()
    query = query.strip()
    if not query:
        return SearchResult(query=query, language=language or "en")
    language = (
        language_of(language)
        if language
        else detect_language(query, knowledge_languages(workspace_id=workspace_id))
    )
    filter_language = language if only_language else None
    output = retrieval_pipeline().run(
        {
            "query_embedder": {"text": query},
            "embedding_retriever": {"workspace_id": workspace_id, "language": filter_language},
            "keyword_retriever": {
                "query": query,
                "workspace_id": workspace_id,
                "language": language,
                "filter_language": only_language,
            },
            "fusion": {"top_k": k},
        }
    )
    hits = [
        SearchHit(
            chunk_id=doc.meta["chunk_id"],
            article_id=doc.meta["article_id"],
            external_id=doc.meta["external_id"],
            title=doc.meta["title"],
            url=doc.meta["url"],
            heading_path=doc.meta["heading_path"],
            locale=doc.meta["locale"],
            text=doc.content or "",
            score=float(doc.score or 0.0),
            article_score=float(doc.meta["article_score"]),
            found_by=doc.meta["found_by"],
        )
        for doc in output["fusion"]["documents"]
    ]
    return SearchResult(
        query=query,
        language=language,
        hits=hits,
        took_ms=(time.perf_counter() - started) * 1000,
    )


def query_coverage(
    *, workspace_id: int, query: str, language: str, chunk_ids: list[int]
) -> dict[int, float]:
    """For each chunk, the IDF-weighted share (0-1) of the query's words it contains.

    A chunk can be close to a question in meaning and still not be about it ("how do I restore
    an S3 bucket?" is near every backup page of an RDS guide); the words the question turns on
    must be there too. The flow's confidence combines both.
    """
    if not chunk_ids or not query.strip():
        return {chunk_id: 0.0 for chunk_id in chunk_ids}
    with connection.cursor() as cursor:
        cursor.execute(
            QUERY_COVERAGE_SQL,
            {
                "config": search_config_for(language),
                "query": query,
                "workspace_id": workspace_id,
                "chunk_ids": chunk_ids,
            },
        )
        coverage = {int(chunk_id): float(share or 0.0) for chunk_id, share in cursor.fetchall()}
    return {chunk_id: coverage.get(chunk_id, 0.0) for chunk_id in chunk_ids}
