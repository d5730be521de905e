"""Knowledge benchmarks (`make bench`): ingestion throughput and hybrid retrieval latency.

- Ingestion: chunks/s of the whole indexing pipeline (clean, split, embed, write) next to the
  bare embedder on the same chunks, in the same run.
- Retrieval: p50/p95 of hybrid search at 10k and 100k chunks, warm, next to the bare pgvector
  query. The large sets reuse the real corpus's chunks and embeddings (copied, with small noise
  on the vectors): embedding 100k chunks would take an hour on this machine.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import pytest
from django.db import connection, transaction
from haystack import Document

from console.services import workspace_create
from knowledge.embedders import document_embedder, text_embedder
from knowledge.indexing import ArticleToIndex
from knowledge.models import Chunk, SourceKind
from knowledge.pipelines import indexing_pipeline, retrieval_pipeline
from knowledge.selectors import knowledge_search
from knowledge.services import articles_index, source_create, term_statistics_refresh
from knowledge.sources.files import read_upload
from knowledge.text_search import FILL_POSTINGS_SQL

pytestmark = pytest.mark.django_db

EVAL = Path(__file__).resolve().parents[3] / "shared" / "eval" / "aws-docs"
CORPUS = EVAL / "docs" / "amazon-forecast-developer-guide"
ARTICLES = int(os.environ.get("BENCH_ARTICLES", "60"))
QUERIES = [
    json.loads(line)["turns"][0]
    for line in (EVAL / "cases-core.jsonl").read_text().splitlines()
    if line.strip()
]


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(len(ordered) * 0.95) - 1)]


def report(line: str) -> None:
    print(line, flush=True)


def split_passages(articles: list[ArticleToIndex]) -> list[Document]:
    pipeline = indexing_pipeline()
    documents = [
        Document(content=a.content, meta={"external_id": a.external_id, "title": a.title})
        for a in articles
    ]
    cleaned = pipeline.get_component("cleaner").run(documents=documents)["documents"]
    return pipeline.get_component("splitter").run(documents=cleaned)["documents"]


def copy_corpus(source_id: int, workspace_id: int, copies: int, batch: str) -> None:
    """Clone the source's articles and chunks `copies` times, with noise on each embedding,
    and index the copies' keywords as the writer would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM knowledge_chunk")
        (last_chunk_id,) = cursor.fetchone()
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("DROP INDEX IF EXISTS chunk_embedding_hnsw")
        cursor.execute(
            """
            INSERT INTO knowledge_article (workspace_id, source_id, external_id, title, url, locale,
                content, content_hash, version, created_at, updated_at)
            SELECT a.workspace_id, a.source_id, a.external_id || %(suffix)s || g, a.title, a.url,
                a.locale, '', a.content_hash, 1, now(), now()
            FROM knowledge_article a, generate_series(1, %(copies)s) g
            WHERE a.source_id = %(source)s AND a.external_id NOT LIKE '%%::copy%%'
            """,
            {"copies": copies, "source": source_id, "suffix": f"::copy{batch}-"},
        )
        cursor.execute(
            """
            INSERT INTO knowledge_chunk (workspace_id, article_id, position, heading_path, text,
                locale, embedding, search_vector)
            SELECT c.workspace_id, copy.id, c.position, c.heading_path, c.text, c.locale,
                c.embedding + (SELECT array_agg(random() * 0.04 - 0.02)::vector
                               FROM generate_series(1, 384 + 0 * copy.id)),
                c.search_vector
            FROM knowledge_article a
            JOIN knowledge_chunk c ON c.article_id = a.id
            JOIN knowledge_article copy ON copy.source_id = a.source_id
                AND copy.external_id LIKE a.external_id || %(suffix)s || '%%'
            WHERE a.source_id = %(source)s AND a.external_id NOT LIKE '%%::copy%%'
            """,
            {"source": source_id, "suffix": f"::copy{batch}-"},
        )
        cursor.execute(
            FILL_POSTINGS_SQL.replace(
                "WHERE chunk.article_id = %(article_id)s",
                "WHERE chunk.workspace_id = %(workspace_id)s AND chunk.id > %(after)s",
            ),
            {"workspace_id": workspace_id, "after": last_chunk_id},
        )
        # The inserts above leave deferred foreign-key checks that block CREATE INDEX.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "CREATE INDEX chunk_embedding_hnsw ON knowledge_chunk "
            "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
        cursor.execute("ANALYZE knowledge_chunk")
        cursor.execute("ANALYZE knowledge_article")
        cursor.execute("ANALYZE knowledge_chunkterm")
    term_statistics_refresh(workspace_id=workspace_id)


def measure_retrieval(workspace_id: int, label: str) -> None:
    embeddings = [text_embedder().run(text=q)["embedding"] for q in QUERIES]
    pipeline = retrieval_pipeline()
    for query in QUERIES:  # warm every code path
        knowledge_search(workspace_id=workspace_id, query=query)

    bare, retrieval, search, by_vector, by_keyword = [], [], [], [], []
    for embedding in embeddings:
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.ef_search = 100")
            cursor.execute(
                "SELECT id FROM knowledge_chunk WHERE workspace_id = %s "
                "ORDER BY embedding <=> %s::vector LIMIT 40",
                [workspace_id, str(embedding)],
            )
            cursor.fetchall()
        bare.append((time.perf_counter() - started) * 1000)
    for query, embedding in zip(QUERIES, embeddings, strict=True):
        started = time.perf_counter()
        pipeline.get_component("embedding_retriever").run(
            query_embedding=embedding, workspace_id=workspace_id
        )
        by_vector.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        pipeline.get_component("keyword_retriever").run(
            query=query, workspace_id=workspace_id, language="en"
        )
        by_keyword.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        pipeline.get_component("fusion").run(
            embedding_documents=pipeline.get_component("embedding_retriever").run(
                query_embedding=embedding, workspace_id=workspace_id
            )["documents"],
            keyword_documents=pipeline.get_component("keyword_retriever").run(
                query=query, workspace_id=workspace_id, language="en"
            )["documents"],
        )
        retrieval.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        knowledge_search(workspace_id=workspace_id, query=query)
        search.append((time.perf_counter() - started) * 1000)
    chunks = Chunk.objects.filter(workspace_id=workspace_id).count()
    for name, samples in (
        ("bare pgvector top-40", bare),
        ("ChunkEmbeddingRetriever", by_vector),
        ("ChunkKeywordRetriever (BM25)", by_keyword),
        ("hybrid retrieval (given the query embedding)", retrieval),
        ("hybrid search incl. query embedding + language", search),
    ):
        p50, p95 = p50_p95(samples)
        report(f"  {label} ({chunks} chunks) {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")


def test_ingestion_throughput_and_retrieval_latency():
    workspace = workspace_create(name="Bench", slug="bench")
    source = source_create(workspace=workspace, kind=SourceKind.FOLDER, name="f", settings_={})
    drafts = read_upload(CORPUS).drafts[:ARTICLES]
    articles = [
        ArticleToIndex.from_draft(d, workspace_id=workspace.pk, source_id=source.pk) for d in drafts
    ]
    passages = split_passages(articles)
    embedder = document_embedder()
    embedder.run(documents=passages[:8])  # warm

    started = time.perf_counter()
    embedder.run(documents=[Document(content=p.content, meta=dict(p.meta)) for p in passages])
    raw = len(passages) / (time.perf_counter() - started)
    started = time.perf_counter()
    articles_index(articles=articles)
    term_statistics_refresh(workspace_id=workspace.pk)
    stored = Chunk.objects.filter(workspace=workspace).count()
    pipeline = stored / (time.perf_counter() - started)
    report(
        f"\nIngestion of {len(articles)} articles, {stored} chunks: pipeline {pipeline:.1f} "
        f"chunks/s, bare embedder {raw:.1f} chunks/s, ratio {pipeline / raw:.2f}"
    )
    assert stored == len(passages)

    for target in (10_000, 100_000):
        existing = Chunk.objects.filter(workspace=workspace).count()
        copies = max(0, round((target - existing) / stored))
        copy_corpus(source.pk, workspace.pk, copies, batch=str(target))
        measure_retrieval(workspace.pk, f"{target // 1000}k")
