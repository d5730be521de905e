from __future__ import annotations

from collections import defaultdict
from typing import Any

from haystack import Document, component

from knowledge.indexing import ArticleToIndex, IndexedPassage


@component
class ArticleChunkWriter:
    """Stores each article with its embedded passages, replacing its old chunks atomically.

    Passages are matched to their article by `meta["external_id"]`. An article with no passage
    (empty after cleaning) is still stored, with no chunks, so re-sync knows it was seen.
    """

    @component.output_types(articles_written=int, chunks_written=int)
    def run(self, documents: list[Document], articles: list[ArticleToIndex]) -> dict[str, Any]:
        # Imported here: services import the pipeline, and components must import cheaply.
        from knowledge.services import article_replace

        passages_by_article: dict[str, list[IndexedPassage]] = defaultdict(list)
        for document in documents:
            if document.embedding is None:
                raise ValueError(f"Passage of {document.meta['external_id']} was not embedded.")
            passages_by_article[document.meta["external_id"]].append(
                IndexedPassage(
                    position=document.meta["position"],
                    heading_path=document.meta["heading_path"],
                    text=document.content or "",
                    embedding=document.embedding,
                )
            )
        chunks = 0
        for article in articles:
            passages = passages_by_article.get(article.external_id, [])
            article_replace(article=article, passages=passages)
            chunks += len(passages)
        return {"articles_written": len(articles), "chunks_written": chunks}
