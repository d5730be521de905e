from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from haystack import Document, component

from knowledge.retrieval_documents import CHUNK_COLUMNS, chunk_document

NEAREST_CHUNKS_SQL = f"""
SELECT {CHUNK_COLUMNS}, chunk.embedding <=> %(embedding)s::vector AS distance
FROM knowledge_chunk AS chunk
JOIN knowledge_article AS article ON article.id = chunk.article_id
WHERE chunk.workspace_id = %(workspace_id)s
  AND (%(language)s::text IS NULL OR chunk.locale = %(language)s::text)
ORDER BY chunk.embedding <=> %(embedding)s::vector
LIMIT %(limit)s
"""  # noqa: S608 - only the fixed column list is formatted in


@component
class ChunkEmbeddingRetriever:
    """Nearest chunks to a query embedding by cosine distance, on the pgvector HNSW index.

    Always scoped to one workspace (and optionally one language). The index is shared by all
    workspaces, so the scan is iterative (pgvector >= 0.8): it keeps walking the graph until it
    has `top_k` rows of this workspace instead of filtering a fixed candidate list down to few.
    """

    def __init__(self, top_k: int = 40, ef_search: int = 100) -> None:
        self.top_k = top_k
        self.ef_search = ef_search

    @component.output_types(documents=list[Document])
    def run(
        self,
        query_embedding: Sequence[float],
        workspace_id: int,
        language: str | None = None,
        top_k: int | None = None,
    ) -> dict[str, Any]:
        limit = top_k or self.top_k
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [max(self.ef_search, limit)])
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            cursor.execute(
                NEAREST_CHUNKS_SQL,
                {
                    "embedding": _vector_literal(query_embedding),
                    "workspace_id": workspace_id,
                    "language": language,
                    "limit": limit,
                },
            )
            rows = cursor.fetchall()
        # relaxed_order may return rows slightly out of order.
        rows.sort(key=lambda row: row[-1])
        return {
            "documents": [
                chunk_document(row, score=1.0 - float(row[-1]), retriever="embedding")
                for row in rows
            ]
        }


def _vector_literal(embedding: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(value)) for value in embedding) + "]"
