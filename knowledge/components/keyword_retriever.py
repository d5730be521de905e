from __future__ import annotations

from typing import Any

from django.contrib.postgres.search import SearchQueryField
from django.db.models import BooleanField, F, FloatField, Func, Value
from haystack import Document, component

from knowledge.models import Chunk
from knowledge.retrieval_documents import chunk_document
from knowledge.text_search import search_config_for


class AnyWordQuery(Func):
    """plainto_tsquery with OR instead of AND between the words.

    A customer's question has many words that no passage contains all of; requiring every word
    (plainto/websearch) would find nothing for most questions. Ranking does the rest.
    """

    output_field = SearchQueryField()
    template = (
        "replace(replace(plainto_tsquery(%(expressions)s)::text, '<->', '|'), '&', '|')::tsquery"
    )


class Matches(Func):
    output_field = BooleanField()
    arg_joiner = " @@ "
    template = "(%(expressions)s)"


class RankCoverDensity(Func):
    function = "ts_rank"
    output_field = FloatField()
    # Weights for D, C, B, A: title (A) and headings (B) count more than body text (D).
    template = "ts_rank('{0.2, 0.4, 0.6, 1.0}', %(expressions)s, 1)"


@component
class ChunkKeywordRetriever:
    """Chunks matching the query's words in Postgres full text (GIN index), ranked by ts_rank.

    The query is parsed with the text-search configuration of its language, so a Portuguese
    question is stemmed as Portuguese and finds Portuguese articles.
    """

    def __init__(self, top_k: int = 40) -> None:
        self.top_k = top_k

    @component.output_types(documents=list[Document])
    def run(
        self,
        query: str,
        workspace_id: int,
        language: str | None = None,
        filter_language: bool = False,
        top_k: int | None = None,
    ) -> dict[str, Any]:
        config = search_config_for(language)
        tsquery = AnyWordQuery(Value(config), Value(query))
        chunks = Chunk.objects.filter(workspace_id=workspace_id)
        if filter_language and language:
            chunks = chunks.filter(locale=language)
        matches = (
            chunks.annotate(query=tsquery)
            .annotate(matched=Matches(F("search_vector"), F("query")))
            .filter(matched=True)
            .annotate(rank=RankCoverDensity(F("search_vector"), F("query")))
            .select_related("article")
            .defer("embedding", "search_vector", "article__content")
            .order_by("-rank", "pk")[: top_k or self.top_k]
        )
        return {
            "documents": [
                chunk_document(chunk, score=float(chunk.rank), retriever="keyword")
                for chunk in matches
            ]
        }
