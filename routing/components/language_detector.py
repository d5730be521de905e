"""The language a customer message is in, so the reply, fallback and handoff speak it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from haystack import component

from knowledge.language import (
    MIN_CONFIDENCE_MARGIN,
    MIN_LETTERS_TO_DETECT,
    MIN_WORDS_TO_DETECT,
    guess_language,
    language_detector,
    supported_language_codes,
)

logger = logging.getLogger(__name__)


@component
class LanguageDetector:
    """Detects the language of a customer message among the flow's languages plus English.

    Short messages ("ok", "thanks!!", "webhook 500") keep the conversation's previous language,
    else the default: a customer who wrote in Portuguese and then says "thanks" still wants
    Portuguese. Links, emails, numbers, @mentions, code and product names are ignored.
    """

    def __init__(
        self,
        languages: Iterable[str] = ("en", "pt", "es", "fr", "de"),
        default_language: str = "en",
        min_letters: int = MIN_LETTERS_TO_DETECT,
        min_words: int = MIN_WORDS_TO_DETECT,
        min_margin: float = MIN_CONFIDENCE_MARGIN,
    ) -> None:
        codes = {code.strip().lower() for code in languages} | {"en", default_language.lower()}
        unknown = sorted(codes - supported_language_codes())
        if unknown:
            # A flow that names a language we cannot detect is a configuration error, not a
            # reason to silently answer in English.
            raise ValueError(f"Unsupported language codes: {', '.join(unknown)}")
        self.languages = sorted(codes)
        self.default_language = default_language.lower()
        self.min_letters = min_letters
        self.min_words = min_words
        self.min_margin = min_margin
        self._warmed_up = False

    def warm_up(self) -> None:
        if self._warmed_up:
            return
        # Cached per set of languages, so flows sharing a set share the loaded models.
        language_detector(frozenset(self.languages))
        self._warmed_up = True
        logger.info("Language detector ready for %s", ",".join(self.languages))

    @component.output_types(
        language=str, confidence=float, candidates=dict[str, float], decided_by=str
    )
    def run(self, text: str, previous_language: str | None = None) -> dict[str, Any]:
        """`language` (ISO 639-1), lingua's `confidence` in it, and every candidate's confidence.

        `previous_language` is the conversation's language so far; a message that says too
        little, or does not clearly point elsewhere, keeps it. `decided_by` ("detected",
        "previous" or "default") tells the trace why this language was chosen.
        """
        if not self._warmed_up:
            self.warm_up()
        previous = (previous_language or "").lower()
        keep_previous = previous in self.languages
        guess = guess_language(
            text,
            frozenset(self.languages),
            previous if keep_previous else self.default_language,
            decided_by_fallback="previous" if keep_previous else "default",
            min_letters=self.min_letters,
            min_words=self.min_words,
            min_margin=self.min_margin,
        )
        return {
            "language": guess.language,
            "confidence": guess.confidence,
            "candidates": guess.candidates,
            "decided_by": guess.decided_by,
        }
