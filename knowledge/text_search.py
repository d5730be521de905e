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


# BM25 with fields: a lexeme in the title counts 3 times, in the headings twice, in the text
# once. Chunks are bounded in size (see HeadingAwareSplitter), so the length normalisation uses
# a fixed average length instead of a workspace-wide one that would change on every write.
BM25_K1 = 1.2
BM25_B = 0.75
BM25_AVERAGE_LENGTH = 100.0

# Only these module constants are formatted into the SQL; every value is a bound parameter.
# Only the module constants above are formatted into the SQL; values are bound parameters.
FILL_POSTINGS_SQL = """
INSERT INTO knowledge_chunkterm (chunk_id, workspace_id, lexeme, weight)
SELECT chunk_id, workspace_id, lexeme,
       tf * ({k1} + 1) / (tf + {k1} * (1 - {b} + {b} * dl / {average_length}))
FROM (
    SELECT chunk.id AS chunk_id, chunk.workspace_id, term.lexeme,
           (SELECT sum(CASE w WHEN 'A' THEN 3 WHEN 'B' THEN 2 ELSE 1 END)
            FROM unnest(term.weights) AS w) AS tf,
           sum(coalesce(array_length(term.positions, 1), 1)) OVER (PARTITION BY chunk.id) AS dl
    FROM knowledge_chunk AS chunk, unnest(chunk.search_vector) AS term
    WHERE chunk.article_id = %(article_id)s
) AS counted
""".format(k1=BM25_K1, b=BM25_B, average_length=BM25_AVERAGE_LENGTH)  # noqa: S608, UP032

REFRESH_TERM_STATISTICS_SQL = [
    "DELETE FROM knowledge_termstatistic WHERE workspace_id = %(workspace_id)s",
    """
    INSERT INTO knowledge_termstatistic (workspace_id, lexeme, chunks)
    SELECT %(workspace_id)s, lexeme, count(*) FROM knowledge_chunkterm
    WHERE workspace_id = %(workspace_id)s GROUP BY lexeme
    UNION ALL
    SELECT %(workspace_id)s, '', count(*) FROM knowledge_chunk WHERE workspace_id = %(workspace_id)s
    """,
    # Fresh planner statistics at once: until autovacuum gets to it, the planner would expect one
    # row per lexeme and keyword search and query coverage would run several times slower.
    "ANALYZE knowledge_termstatistic",
]

# The query's distinct lexemes, each with its BM25 inverse document frequency in the workspace.
# Lexemes missing from the statistics (written since the last refresh) count as rare.
QUERY_TERMS_CTE = """
WITH query_terms AS (
    SELECT DISTINCT lexeme FROM unnest(to_tsvector(%(config)s::regconfig, %(query)s))
),
corpus AS (
    SELECT coalesce(
        (SELECT chunks FROM knowledge_termstatistic
         WHERE workspace_id = %(workspace_id)s AND lexeme = ''),
        (SELECT count(*) FROM knowledge_chunk WHERE workspace_id = %(workspace_id)s)
    )::float AS chunks
),
weighted_terms AS (
    SELECT query_terms.lexeme,
           ln(1 + (corpus.chunks - coalesce(stat.chunks, 1) + 0.5)
                  / (coalesce(stat.chunks, 1) + 0.5)) AS idf
    FROM query_terms CROSS JOIN corpus
    LEFT JOIN knowledge_termstatistic AS stat
        ON stat.workspace_id = %(workspace_id)s AND stat.lexeme = query_terms.lexeme
)"""

# Top chunks by BM25 over the query's lexemes. Each lexeme contributes at most `postings` of its
# best-weighted chunks (read in index order), which bounds the work for a word in every chunk;
# such a word has almost no IDF anyway.
BM25_SEARCH_SQL_TEMPLATE = (
    QUERY_TERMS_CTE  # noqa: S608 - constants joined; every value is a bound parameter
    + """,
scored AS (
    SELECT posting.chunk_id, sum(posting.weight * weighted_terms.idf) AS score
    FROM weighted_terms
    CROSS JOIN LATERAL (
        SELECT chunk_id, weight FROM knowledge_chunkterm
        WHERE workspace_id = %(workspace_id)s AND lexeme = weighted_terms.lexeme
        ORDER BY weight DESC
        LIMIT %(postings)s
    ) AS posting
    GROUP BY posting.chunk_id
    ORDER BY score DESC, posting.chunk_id
    LIMIT %(limit)s
)
SELECT {columns}, scored.score
FROM scored
JOIN knowledge_chunk AS chunk ON chunk.id = scored.chunk_id
JOIN knowledge_article AS article ON article.id = chunk.article_id
WHERE %(language)s::text IS NULL OR chunk.locale = %(language)s::text
ORDER BY scored.score DESC, chunk.id
"""
)


# How much of a query the given chunks cover: per chunk, the share of the query's lexemes it
# holds, each weighted by its IDF, so the rare words that name the subject count most. A lexeme
# the workspace has never seen weighs the most of all: a question about something the help center
# does not mention at all ("Glacier", "Kubernetes") is not covered by any chunk.
QUERY_COVERAGE_SQL = (
    QUERY_TERMS_CTE
    + """
SELECT chunk_ids.id,
       coalesce(sum(weighted_terms.idf) FILTER (WHERE posting.chunk_id IS NOT NULL), 0)
           / nullif(sum(weighted_terms.idf), 0)
FROM unnest(%(chunk_ids)s::bigint[]) AS chunk_ids(id)
CROSS JOIN weighted_terms
LEFT JOIN knowledge_chunkterm AS posting
    ON posting.workspace_id = %(workspace_id)s
    AND posting.chunk_id = chunk_ids.id
    AND posting.lexeme = weighted_terms.lexeme
GROUP BY chunk_ids.id
"""
)
