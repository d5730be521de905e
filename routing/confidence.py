"""How sure the flow is that the retrieved passages answer the message.

Closeness in meaning alone is a weak signal: "How do I download an S3 bucket?" sits close to the
backup pages of a database guide that never mentions S3. So the confidence is the best passage's
cosine similarity to the message, but it drops to zero when
- the message names something (a product, an instance type, an error code) that none of the
  retrieved passages mentions, or
- the best passage holds too little of the message's weighted words (IDF coverage).

On the AWS documentation cases this kept the answers with the right article cited first at 0.82
(the retrieval's own top-1 ceiling) and raised the out-of-scope questions handed off from 0.85
to 0.92 at the same threshold; see the README's evaluation section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from routing.components.sentiment_scorer import fold

# Below this share of the message's IDF-weighted words, the best passage is about something else.
MIN_WORD_COVERAGE = 0.2

_TOKEN = re.compile(r"[^\W_][\w.\-]*[^\W_]|[^\W_]", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?¿¡:;]\s*$")
# Capitalised words that name nothing: the English pronoun, and greetings a sentence may lead with.
_NOT_NAMES = {"i", "hi", "hello", "ok", "okay", "please", "thanks"}
# German capitalises every noun, so there a capital letter does not mark a name.
_CAPITALISED_NOUN_LANGUAGES = {"de"}


@dataclass(frozen=True)
class RetrievalConfidence:
    score: float  # what the flow compares with its confidence threshold
    similarity: float  # the best passage's cosine similarity to the message
    word_coverage: float  # the best passage's share of the message's weighted words
    named_terms: list[str] = field(default_factory=list)
    missing_terms: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 4),
            "similarity": round(self.similarity, 4),
            "word_coverage": round(self.word_coverage, 4),
            "named_terms": self.named_terms,
            "missing_terms": self.missing_terms,
        }


def named_terms(message: str, language: str = "en") -> list[str]:
    """The words a message uses as names: "RDS", "db.t2.medium", "CloudTrail", "Slack".

    A word is a name when it carries a digit, two capitals or an underscore, or - except in German
    - starts with a capital without starting a sentence. Bare numbers are not names. Lower-case
    questions have none, and the check then leaves the confidence to similarity.
    """
    names: dict[str, None] = {}
    sentence_start = True
    for match in _TOKEN.finditer(message):
        word = match.group()
        starts_sentence = sentence_start
        following = message[match.end() : match.end() + 2]
        sentence_start = bool(_SENTENCE_END.match(following))
        # A bare number is a quantity of the customer's ("12 seats"), not a name.
        if len(word) < 2 or word.lower() in _NOT_NAMES or not any(c.isalpha() for c in word):
            continue
        looks_like_identifier = (
            any(char.isdigit() for char in word)
            or sum(char.isupper() for char in word) >= 2
            or "_" in word
        )
        capitalised_name = (
            word[0].isupper()
            and not starts_sentence
            and language not in _CAPITALISED_NOUN_LANGUAGES
        )
        if looks_like_identifier or capitalised_name:
            names.setdefault(fold(word).strip(".-"))
    return [name for name in names if name]


def retrieval_confidence(
    *,
    message: str,
    language: str,
    passages: list[dict[str, Any]],
    coverage: dict[int, float],
) -> RetrievalConfidence:
    """`passages`: the retrieval hits (title, heading_path, text, similarity, chunk_id), best
    first; `coverage`: each hit's share of the message's weighted words."""
    similarity = max((hit.get("similarity") or 0.0 for hit in passages), default=0.0)
    word_coverage = max(coverage.values(), default=0.0)
    terms = named_terms(message, language)
    haystack = fold(
        " ".join(f"{hit['title']} {hit['heading_path']} {hit['text']}" for hit in passages)
    )
    missing = [term for term in terms if not _mentions(haystack, term)]
    trusted = bool(passages) and not missing and word_coverage >= MIN_WORD_COVERAGE
    return RetrievalConfidence(
        score=similarity if trusted else 0.0,
        similarity=similarity,
        word_coverage=word_coverage,
        named_terms=terms,
        missing_terms=missing,
    )


def _mentions(text: str, term: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(term)}(?![\w])", text) is not None
