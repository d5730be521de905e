"""Values passed between the sync service and the indexing pipeline."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from knowledge.sources.drafts import ArticleDraft


@dataclass(frozen=True)
class ArticleToIndex:
    workspace_id: int
    source_id: int
    external_id: str
    title: str
    url: str
    locale: str
    content: str
    content_hash: str

    @classmethod
    def from_draft(
        cls, draft: ArticleDraft, *, workspace_id: int, source_id: int
    ) -> ArticleToIndex:
        return cls(
            workspace_id=workspace_id,
            source_id=source_id,
            external_id=draft.external_id,
            title=clean_title(draft.title)[:500] or draft.external_id[:500],
            url=draft.url[:2000],
            locale=(draft.locale or "en").lower()[:10],
            content=draft.content,
            content_hash=draft_content_hash(draft),
        )


@dataclass(frozen=True)
class IndexedPassage:
    position: int
    heading_path: str
    text: str
    embedding: list[float]


def clean_title(title: str) -> str:
    """A title as plain text: no inline HTML (`<a name=...></a>`), escapes or Markdown links."""
    from knowledge.components.markdown_cleaner import clean_markdown

    return " ".join(clean_markdown(title).split())


def draft_content_hash(draft: ArticleDraft) -> str:
    """Changes whenever anything a reader of the article would see changes, and when the
    embedder changes: a re-sync after switching models then re-embeds every article."""
    from knowledge.embedders import embedder_identity

    digest = hashlib.sha256()
    for part in (draft.title, draft.url, draft.locale, draft.content, embedder_identity()):
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()
