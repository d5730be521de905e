from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from haystack import Document, component
from pgvector.django import CosineDistance

from knowledge.models import Chunk
from knowledge.retrieval_documents import chunk_document


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
        query_embedding: list[float],
        workspace_id: int,
        language: str | None = None,
        top_k: int | None = None,
    ) -> dict[str, Any]:
        limit = top_k or self.top_k
        chunks = Chunk.objects.filter(workspace_id=workspace_id)
        if language:
            chunks = chunks.filter(locale=language)
        nearest = (
            chunks.select_related("article")
            .annotate(distance=CosineDistance("embedding", query_embedding))
            .order_by("distance")
            .defer("embedding", "search_vector", "article__content")
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [max(self.ef_search, limit)])
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            rows = list(nearest[:limit])
        # relaxed_order may return rows slightly out of order.
        rows.sort(key=lambda chunk: chunk.distance)
        return {
            "documents": [
                chunk_document(chunk, score=1.0 - float(chunk.distance), retriever="embedding")
                for chunk in rows
            ]
        }
