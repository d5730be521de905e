"""Postgres full-text configuration per language, and the SQL that fills a chunk's search vector."""

from __future__ import annotations

# Languages whose Postgres text-search configuration stems words; others use 'simple'.
TEXT_SEARCH_CONFIGS = {
    "ar": "arabic",
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "nb": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}


def language_of(locale: str) -> str:
    """'pt-BR' -> 'pt'."""
    return (locale or "en").split("-")[0].split("_")[0].lower()[:2] or "en"


def search_config_for(locale: str | None) -> str:
    if not locale:
        return "simple"
    return TEXT_SEARCH_CONFIGS.get(language_of(locale), "simple")


# Title and headings weigh more than body text: a question naming an article's subject should
# find that article first. The config is bound as a parameter, never formatted into the SQL.
FILL_SEARCH_VECTORS_SQL = """
UPDATE knowledge_chunk AS chunk
SET search_vector =
    setweight(to_tsvector(%(config)s::regconfig, %(title)s), 'A')
    || setweight(to_tsvector(%(config)s::regconfig, chunk.heading_path), 'B')
    || setweight(to_tsvector(%(config)s::regconfig, chunk.text), 'D')
WHERE chunk.article_id = %(article_id)s
"""
