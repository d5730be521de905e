"""GroundednessGuard: every factual sentence of a reply must be backed by a retrieved passage.

A sentence is supported when its embedding is close to one passage sentence's (cosine similarity
at least `min_support`) and every number in it appears in the passages: an embedding barely moves
when "30 days" becomes "90 days", so numbers are checked as text.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from haystack import Document, component

from routing.components.grounded_composer import (
    clean_inline,
    framing_prefixes,
    passage_units,
    split_sentences,
)

# Chosen on examples (all-MiniLM-L6-v2, "Reset your password" article): quoted sentences score
# 1.0, paraphrases 0.72-0.95, unrelated facts about the same product 0.16-0.53.
DEFAULT_MIN_SUPPORT = 0.6

# Greetings and sign-offs an LLM wraps an answer in; they state nothing to check.
_SMALL_TALK = (
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank you",
    "you're welcome",
    "i hope this helps",
    "hope this helps",
    "let me know",
    "is there anything else",
    "olá",
    "oi",
    "obrigad",
    "espero que",
    "hola",
    "gracias",
    "bonjour",
    "merci",
    "j'espère",
    "hallo",
    "danke",
    "ich hoffe",
)


DEFAULT_IGNORE_PREFIXES = (*framing_prefixes(), "Sources:", "Fontes:", "Fuentes:", "Quellen:")

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_LIST_MARKER = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*+•])\s+")
# A short line ending in a colon introduces what follows ("Here are the steps:").
_MAX_LEAD_IN_WORDS = 12


@component
class GroundednessGuard:
    """Checks a generated reply against the passages it was generated from.

    Returns each checked sentence with its best support (cosine similarity with the closest
    passage sentence), and `reply` unchanged when all are supported, "" otherwise so the caller
    says the fallback and hands off. Framing (the composer's intro and source lines, greetings, a
    short lead-in ending in ":") is not checked. A reply with nothing left to check is not
    grounded: it answers nothing from the documentation.
    """

    def __init__(
        self,
        min_support: float = DEFAULT_MIN_SUPPORT,
        ignore_prefixes: list[str] | None = None,
    ) -> None:
        self.min_support = min_support
        self.ignore_prefixes = tuple(
            DEFAULT_IGNORE_PREFIXES if ignore_prefixes is None else ignore_prefixes
        )
        self._embedder: Any = None

    def warm_up(self) -> None:
        if self._embedder is None:
            # Imported here: the embedders module reads Django settings.
            from knowledge.embedders import text_embedder

            self._embedder = text_embedder()

    @component.output_types(grounded=bool, sentences=list[dict[str, Any]], reply=str)
    def run(self, reply: str, documents: list[Document]) -> dict[str, Any]:
        claims = self.claims(reply)
        evidence = self._evidence(documents)
        if not claims:
            return {"grounded": False, "sentences": [], "reply": ""}
        known_numbers = {
            _normalise_number(number) for text in evidence for number in _NUMBER.findall(text)
        }
        supports = self._supports(claims, evidence)
        sentences = []
        for claim, support in zip(claims, supports, strict=True):
            numbers = {_normalise_number(number) for number in _NUMBER.findall(claim)}
            supported = support >= self.min_support and numbers <= known_numbers
            sentences.append({"text": claim, "support": round(support, 4), "supported": supported})
        grounded = all(sentence["supported"] for sentence in sentences)
        return {"grounded": grounded, "sentences": sentences, "reply": reply if grounded else ""}

    def claims(self, reply: str) -> list[str]:
        """The sentences of a reply that state something, without list markers or framing."""
        claims: list[str] = []
        for line in reply.split("\n"):
            line = clean_inline(_LIST_MARKER.sub("", line))
            if not line or self._is_framing(line):
                continue
            claims.extend(sentence for sentence in split_sentences(line) if sentence.strip())
        return [claim for claim in claims if not self._is_framing(claim)]

    def _is_framing(self, text: str) -> bool:
        if text.startswith(self.ignore_prefixes):
            return True
        lowered = text.lower()
        if lowered.startswith(_SMALL_TALK) and len(text.split()) <= _MAX_LEAD_IN_WORDS:
            return True
        return (
            text.rstrip().endswith(":")
            and len(text.split()) <= _MAX_LEAD_IN_WORDS
            and not _NUMBER.search(text)
        )

    @staticmethod
    def _evidence(documents: list[Document]) -> list[str]:
        """Every sentence and step of the passages, plus their titles and headings."""
        evidence: list[str] = []
        for document in documents:
            for unit in passage_units(document.content or ""):
                # A step may hold two sentences, which a reply can quote one at a time.
                evidence.append(unit.text)
                evidence.extend(split_sentences(unit.text))
            for key in ("title", "heading_path"):
                value = str(document.meta.get(key) or "")
                evidence.extend(part.strip() for part in value.split(" > ") if part.strip())
        return list(dict.fromkeys(evidence))

    def _supports(self, claims: list[str], evidence: list[str]) -> list[float]:
        if not evidence:
            return [0.0] * len(claims)
        vectors = self._embed([*claims, *evidence])
        claim_vectors, evidence_vectors = vectors[: len(claims)], vectors[len(claims) :]
        similarities = claim_vectors @ evidence_vectors.T
        return [float(row.max()) for row in similarities]

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:
            self.warm_up()
        backend = getattr(self._embedder, "embedding_backend", None)
        if backend is not None:
            # One batch for the reply and all passages; the text embedder's run() takes one text.
            prefix = getattr(self._embedder, "prefix", "")
            suffix = getattr(self._embedder, "suffix", "")
            rows = backend.embed([prefix + text + suffix for text in texts], batch_size=32)
        else:
            # An API embedder: one call per text.
            rows = [self._embedder.run(text=text)["embedding"] for text in texts]
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1.0, norms)


def _normalise_number(number: str) -> str:
    # "30", "30." and "1,000"/"1.000" compare equal; a trailing sentence full stop is not a part.
    return re.sub(r"[.,]", "", number.rstrip(".,:"))
