"""Which language a short text is in, among the languages a workspace actually has."""

from __future__ import annotations

import functools

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

# A message this short says too little to overrule the default language.
MIN_LETTERS_TO_DETECT = 8


@functools.cache
def _detector(codes: frozenset[str]) -> object:
    languages = [Language.from_iso_code_639_1(IsoCode639_1.from_str(code)) for code in codes]
    # Below this distance between the two best guesses, the text is ambiguous ("export csv")
    # and the default language wins.
    return (
        LanguageDetectorBuilder.from_languages(*languages)
        .with_minimum_relative_distance(0.1)
        .with_preloaded_language_models()
        .build()
    )


def supported_language_codes() -> frozenset[str]:
    return frozenset(language.iso_code_639_1.name.lower() for language in Language.all())


def detect_language(text: str, candidates: set[str], default: str = "en") -> str:
    """The most likely of `candidates` (ISO 639-1 codes) for `text`, else `default`."""
    codes = frozenset(code for code in candidates if code in supported_language_codes())
    if len(codes) < 2 or sum(ch.isalpha() for ch in text) < MIN_LETTERS_TO_DETECT:
        return next(iter(codes)) if len(codes) == 1 else default
    detected = _detector(codes).detect_language_of(text)  # type: ignore[attr-defined]
    return detected.iso_code_639_1.name.lower() if detected is not None else default
