"""Which language a short text is in, among the languages a workspace actually has.

Support messages are short and full of things that are not language: links, email addresses,
order numbers, error codes, product names, pasted code. Those are stripped before lingua sees
the text, and a guess only overrules the language we already believe in (the conversation's
previous language, else the default) when lingua prefers another language by a clear margin.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

# Fewer letters than this (after stripping links, numbers, product names...) say too little to
# overrule the language we already believe in: "hi", "ok", "thanks!!", "help", "webhook 500".
MIN_LETTERS_TO_DETECT = 8
# Nor do one or two words once a conversation has a language: "thank you" from a Portuguese
# customer is still Portuguese. Without one, two clear words ("lösche Erinnerung") beat the
# default, but only by SHORT_TEXT_MARGIN: "Acme Cloud" must not.
MIN_WORDS_TO_DETECT = 3
SHORT_TEXT_MARGIN = 0.5
# lingua's confidence when a text's script belongs to a single candidate language.
SCRIPT_CERTAINTY = 0.99
# How far lingua's best language must be ahead of the fallback language (confidences sum to 1)
# before we switch away from it. Tuned on xSID and banking77 (`manage.py evaluate_language`).
MIN_CONFIDENCE_MARGIN = 0.1

Decision = Literal["detected", "previous", "default"]

# Fenced or inline code: what a customer pastes says nothing about the language they speak.
_CODE_SPAN = re.compile(r"```.*?(```|$)|`[^`\n]*`", re.DOTALL)
_URL = re.compile(r"\b(?:[a-z][a-z0-9+.-]*://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\S+@\S+\.\S+")
_MENTION = re.compile(r"(?<!\w)[@#]\w[\w.-]*")
# Identifiers and product-ish tokens: digits (order numbers, "500", "v2"), inner punctuation
# (file.csv, snake_case, a/b, key=value), inner capitals (HubSpot, iPhone) and acronyms (CSV, SSO).
# Ordinary words, including German capitalised nouns, keep their one leading capital.
_NON_WORD_TOKEN = re.compile(
    r"\S*\d\S*"
    r"|\S*\w[_./\\:=<>{}()\[\]|]+\w\S*"
    r"|\S*[a-z]\S*[A-Z]\S*"
    r"|\b[A-Z]{2,}s?\b"
)
# Tech loanwords written the same in every language of a support inbox; "export csv" or
# "login webhook" carry no clue about the customer's language.
_NEUTRAL_WORDS = frozenset(
    {
        "api",
        "app",
        "apps",
        "bug",
        "csv",
        "dashboard",
        "email",
        "emails",
        "e-mail",
        "ok",
        "okay",
        "login",
        "logout",
        "pdf",
        "plugin",
        "sso",
        "url",
        "webhook",
        "webhooks",
        "wifi",
        "xml",
        "json",
    }
)
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")


@dataclass(frozen=True)
class LanguageGuess:
    """The language to answer in, how sure lingua is of it, and why it was chosen."""

    language: str
    confidence: float
    # lingua's confidence for every candidate language (sums to 1), best first; empty when the
    # text had too few letters to ask.
    candidates: dict[str, float] = field(default_factory=dict)
    decided_by: Decision = "detected"


def supported_language_codes() -> frozenset[str]:
    return frozenset(language.iso_code_639_1.name.lower() for language in Language.all())


@functools.cache
def language_detector(codes: frozenset[str]) -> Any:
    """A lingua detector restricted to `codes`, shared by every caller asking for the same set.

    Building one loads its language models (tens of MB, about a second), so it is done once per
    set of languages and process.
    """
    languages = [Language.from_iso_code_639_1(IsoCode639_1.from_str(code)) for code in codes]
    return (
        LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()
    )


def language_text(text: str) -> str:
    """`text` without the parts that are not natural language (links, numbers, code, names)."""
    letters = [ch for ch in text if ch.isalpha()]
    if sum(ch.isupper() for ch in letters) > len(letters) / 2:
        # A shouting customer ("NADA FUNCIONA") writes words, not acronyms.
        text = text.lower()
    text = _CODE_SPAN.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _NON_WORD_TOKEN.sub(" ", text)
    text = " ".join(_without_names(sentence) for sentence in _SENTENCE_END.split(text))
    words = [word for word in _WORD.findall(text) if word.lower() not in _NEUTRAL_WORDS]
    return " ".join(words)


def _without_names(sentence: str) -> str:
    """`sentence` without runs of two or more capitalised words after its first word.

    Such runs are product, company, place and title names ("Google Sheets", "San Francisco",
    "The Happy Blues"), often English inside another language. German capitalises nouns too,
    but rarely two in a row.
    """
    words = sentence.split()
    capitalised = [_is_capitalised(word) for word in words]
    kept = words[:1]
    for index in range(1, len(words)):
        in_run = capitalised[index] and (
            (index > 1 and capitalised[index - 1])
            or (index + 1 < len(words) and capitalised[index + 1])
        )
        if not in_run:
            kept.append(words[index])
    return " ".join(kept)


def _is_capitalised(word: str) -> bool:
    letters = [ch for ch in word if ch.isalpha()]
    return bool(letters) and letters[0].isupper()


def language_confidences(text: str, codes: frozenset[str]) -> dict[str, float]:
    """lingua's confidence per language of `codes` for `text` (already cleaned), best first."""
    values = language_detector(codes).compute_language_confidence_values(text)
    return {value.language.iso_code_639_1.name.lower(): round(value.value, 4) for value in values}


def guess_language(
    text: str,
    candidates: set[str] | frozenset[str],
    fallback: str,
    *,
    decided_by_fallback: Decision = "default",
    min_letters: int = MIN_LETTERS_TO_DETECT,
    min_words: int = MIN_WORDS_TO_DETECT,
    min_margin: float = MIN_CONFIDENCE_MARGIN,
) -> LanguageGuess:
    """The language of `text` among `candidates`, keeping `fallback` unless the text says otherwise.

    `fallback` is what we already believe (the conversation's language, else the default); it is
    only overruled when lingua puts another candidate at least `min_margin` ahead of it.
    """
    codes = frozenset(code for code in candidates if code in supported_language_codes())
    if len(codes) < 2:
        # One language (or none lingua knows): there is nothing to choose between.
        only = next(iter(codes)) if codes else fallback
        return LanguageGuess(only, 1.0 if codes else 0.0, dict.fromkeys(codes, 1.0), "default")
    cleaned = _dominant_script_words(language_text(text))
    letters = sum(ch.isalpha() for ch in cleaned)
    confidences = language_confidences(cleaned, codes) if letters else {}
    best, best_confidence = next(iter(confidences.items()), (fallback, 0.0))
    if best_confidence == 0.0:
        # Nothing left to read, or no candidate writes this script (Cyrillic in a Latin flow).
        return LanguageGuess(fallback, 0.0, {}, decided_by_fallback)
    if best_confidence >= SCRIPT_CERTAINTY and not _is_latin(cleaned):
        # The only candidate written in this script (Arabic among Latin languages): even two
        # letters of it settle the question.
        return LanguageGuess(best, best_confidence, confidences, "detected")
    short = len(cleaned.split()) < min_words
    if letters < min_letters or (short and decided_by_fallback == "previous"):
        return LanguageGuess(
            fallback, confidences.get(fallback, 0.0), confidences, decided_by_fallback
        )
    margin = max(min_margin, SHORT_TEXT_MARGIN) if short else min_margin
    if best == fallback or best_confidence - confidences.get(fallback, 0.0) < margin:
        return LanguageGuess(
            fallback,
            confidences.get(fallback, 0.0),
            confidences,
            "detected" if best == fallback else decided_by_fallback,
        )
    return LanguageGuess(best, best_confidence, confidences, "detected")


def _is_latin(text: str) -> bool:
    # Basic Latin, Latin-1 and Latin Extended A/B end at U+024F.
    return all(ord(ch) <= 0x24F for ch in text if ch.isalpha())


def _dominant_script_words(text: str) -> str:
    """Only the non-Latin words of a text written partly in another script.

    Customers writing Arabic (or Greek, Cyrillic...) quote product and title names in Latin
    letters, "أضف أغنية إلى this is racionais mc's", not the other way round; so a quarter of
    the letters in another script make that script's words the message's language.
    """
    words = text.split()
    non_latin = [word for word in words if not _is_latin(word)]
    non_latin_letters = sum(ch.isalpha() for word in non_latin for ch in word)
    if non_latin and non_latin_letters * 4 >= sum(ch.isalpha() for ch in text):
        return " ".join(non_latin)
    return text


def detect_language(text: str, candidates: set[str], default: str = "en") -> str:
    """The most likely of `candidates` (ISO 639-1 codes) for `text`, else `default`."""
    return guess_language(text, candidates, default).language
