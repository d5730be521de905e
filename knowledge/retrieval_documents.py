"""How a chunk travels through the retrieval pipeline: a Haystack Document with its provenance."""

from __future__ import annotations

from haystack import Document

from knowledge.models import Chunk


def chunk_document(chunk: Chunk, *, score: float, retriever: str) -> Document:
    article = chunk.article
    return Document(
        id=str(chunk.pk),
        content=chunk.text,
        score=score,
        meta={
            "chunk_id": chunk.pk,
            "article_id": article.pk,
            "external_id": article.external_id,
            "title": article.title,
            "url": article.url,
            "heading_path": chunk.heading_path,
            "position": chunk.position,
            "locale": chunk.locale,
            # Filled by each retriever, merged by the fusion: {"embedding": {"rank", "score"}}.
            "found_by": {retriever: {"score": score}},
        },
    )
