from __future__ import annotations

from typing import Any

from django.db import connection
from haystack import Document, component

from knowledge.retrieval_documents import CHUNK_COLUMNS, chunk_document
from knowledge.text_search import BM25_SEARCH_SQL_TEMPLATE, search_config_for

BM25_SEARCH_SQL = BM25_SEARCH_SQL_TEMPLATE.format(columns=CHUNK_COLUMNS)


@component
class ChunkKeywordRetriever:
    """Chunks ranked by BM25 over Postgres full-text lexemes (see `ChunkTerm`).

    The query is parsed with the text-search configuration of its language, so a Portuguese
    question is stemmed as Portuguese and meets the Portuguese articles' lexemes.
    """

    def __init__(self, top_k: int = 40, postings_per_term: int = 1000) -> None:
        self.top_k = top_k
        self.postings_per_term = postings_per_term

    @component.output_types(documents=list[Document])
    def run(
        self,
        query: str,
        workspace_id: int,
        language: str | None = None,
        filter_language: bool = False,
        top_k: int | None = None,
    ) -> dict[str, Any]:
        limit = top_k or self.top_k
        only_language = language if filter_language else None
        with connection.cursor() as cursor:
            cursor.execute(
                BM25_SEARCH_SQL,
                {
                    "config": search_config_for(language),
                    "query": query,
                    "workspace_id": workspace_id,
                    "postings": self.postings_per_term,
                    # Over-fetch when filtering by language afterwards.
                    "limit": limit * 4 if only_language else limit,
                    "language": only_language,
                },
            )
            rows = cursor.fetchall()[:limit]
        return {
            "documents": [
                chunk_document(row, score=float(row[-1]), retriever="keyword") for row in rows
            ]
        }
