"""How a chunk travels through the retrieval pipeline: a Haystack Document with its provenance.

Retrievers read chunks with one SQL statement each (chunk and article columns in `CHUNK_COLUMNS`
order), since the ORM's model instances cost more than the search itself at 100k chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from haystack import Document

CHUNK_COLUMNS = """
    chunk.id, chunk.position, chunk.heading_path, chunk.text, chunk.locale,
    article.id, article.external_id, article.title, article.url
"""


def chunk_document(row: Sequence[Any], *, score: float, retriever: str) -> Document:
    """A Document from a row whose first columns are CHUNK_COLUMNS."""
    chunk_id, position, heading_path, text, locale, article_id, external_id, title, url = row[:9]
    return Document(
        id=str(chunk_id),
        content=text,
        score=score,
        meta={
            "chunk_id": chunk_id,
            "article_id": article_id,
            "external_id": external_id,
            "title": title,
            "url": url,
            "heading_path": heading_path,
            "position": position,
            "locale": locale,
            # Filled by each retriever, merged by the fusion: {"embedding": {"rank", "score"}}.
            "found_by": {retriever: {"score": score}},
        },
    )
