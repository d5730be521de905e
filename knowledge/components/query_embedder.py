from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

from haystack import component

from knowledge.embedders import text_embedder


@component
class QueryEmbedder:
    """Embeds the query with the configured text embedder and hands it on as a compact vector.

    A Haystack pipeline deep-copies every value passed between components, element by element
    for a list: for a 384-float list that is most of a search's time. An `array` is copied in
    one step.
    """

    def warm_up(self) -> None:
        text_embedder()

    @component.output_types(embedding=Sequence[float])
    def run(self, text: str) -> dict[str, Any]:
        return {"embedding": array("f", text_embedder().run(text=text)["embedding"])}
