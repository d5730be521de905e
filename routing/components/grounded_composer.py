"""GroundedComposer: the offline answer generator, which quotes the help center and nothing else.

The reply is made of sentences and steps copied from the retrieved passages, framed by a few
sentences of the composer's own (an intro, a language note, the source lines) that carry no facts.
So it cannot invent a price, a limit or a step: the strictest form of the guardrail. What it
decides is which passages and which of their sentences answer the question.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from django.utils import translation
from django.utils.translation import gettext, pgettext
from haystack import Document, component

from routing.components.sentiment_scorer import fold
from routing.flow_settings import SUPPORTED_LANGUAGES

# The composer's own words are English msgids, translated in routing/locale/ (`make messages`).
# Each is looked up under `translation.override` of the customer's language; a language without
# a catalog is answered in English.


def framing_language(language: str) -> str:
    """The language the framing is written in: the customer's, when there are texts for it."""
    return language if language in SUPPORTED_LANGUAGES else "en"


def _titled_intro(title: str) -> str:
    # Translators: introduces sentences quoted from a help-center article; title is its title.
    return gettext('Here is what our help center says in "%(title)s":') % {"title": title}


def _untitled_intro() -> str:
    return gettext("Here is what our help center says:")


def _only_in_language_note(language_name: str) -> str:
    # Translators: said before an article quoted in another language than the customer's;
    # language is a language name ("English"), as translated with context "language name".
    return gettext("This article is only available in %(language)s:") % {"language": language_name}


def _not_in_your_language_note() -> str:
    return gettext("This article is not available in your language yet:")


def _source_label() -> str:
    # Translators: precedes the title and link of a quoted article.
    return gettext("Source:")


def _language_names() -> dict[str, str]:
    """The names of the languages an article can be in, in the active language."""
    return {
        # Translators: a language name as it reads inside a sentence ("only available in
        # English"), lower case where your language writes it so. The same for the four below.
        "en": pgettext("language name", "English"),
        "pt": pgettext("language name", "Portuguese"),
        "es": pgettext("language name", "Spanish"),
        "fr": pgettext("language name", "French"),
        "de": pgettext("language name", "German"),
    }


_PLACEHOLDER = "\x00"


def framing_prefixes() -> tuple[str, ...]:
    """The composer's own framing in every language, up to its first placeholder: what a check
    of a reply must not take for a claim."""
    prefixes: set[str] = set()
    for code in SUPPORTED_LANGUAGES:
        with translation.override(code):
            texts = (
                _titled_intro(_PLACEHOLDER),
                _untitled_intro(),
                _only_in_language_note(_PLACEHOLDER),
                _not_in_your_language_note(),
                _source_label(),
            )
        prefixes.update(text.split(_PLACEHOLDER)[0].strip() for text in texts)
    return tuple(sorted(prefix for prefix in prefixes if prefix))


_LIST_ITEM = re.compile(r"^\s*((?:\d{1,3}[.)])|[-*+•])\s+(.*)$")
_HEADING_MARKER = re.compile(r"^\s{0,3}#{1,6}\s+")
_EMPHASIS = re.compile(r"\*\*|__|`")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_DOUBLED_END = re.compile(r"([b-df-hj-np-tv-z])\1$")

# A sentence telling the assistant what to do is an attack or a leak, never help-center content
# worth quoting. Matched on folded text (lower case, no accents).
_INSTRUCTION_TO_ASSISTANT = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(?:instructions?|rules|prompts?)\b"
    r"|\bsystem prompt\b|\bdeveloper (?:message|mode)\b|\byou are now\b"
    r"|\bignor[ae]\w*\b[^.!?\n]{0,40}\b(?:instrucoes|instrucciones|regras|reglas)\b"
    r"|\bignore[zr]?\b[^.!?\n]{0,40}\b(?:instructions|consignes)\b"
    r"|\bignorier\w*\b[^.!?\n]{0,40}\b(?:anweisungen|regeln)\b"
)


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words that carry no topic, in the five languages, folded. Rarity weighting handles the rest.
_STOPWORDS = _word_set(
    """
    a about after again all also am an and any are as at be been before being but by can cannot
    could did do does doing don done for from get got had has have having he her here hi hello how
    i if in into is it its just let me more most my myself no not now of on once only or other our
    out over please same she should so some still such than thank thanks that the their them then
    there these they this those to too under until up us very want was we were what when where
    which while who why will with would you your yours yourself s t ve ll re d m
    o os as um uma uns umas de do da dos das e em no na nos nas por para pra com sem que se eu
    meu minha meus minhas voce voces ele ela eles elas seu sua seus suas isso isto esse essa este
    esta ao aos mas ou como quando onde porque qual quais ja nao sim muito mais ser estar ter tem
    foi sou estou esta estao posso pode preciso ola oi obrigado obrigada favor
    el la los las un una unos unas del al y en con sin por para que se yo mi mis tu tus su sus
    es son esta estoy eso esto ese esa lo le les pero o cuando donde porque cual cuales ya si muy
    mas hola gracias puedo puede necesito tengo hay
    le la les un une des du de et en au aux avec sans pour par que qui je mon ma mes tu ton ta
    tes vous votre vos il elle ils elles son sa ses ce cet cette ces est sont suis mais ou comment
    quand pourquoi quel quelle ne pas plus tres bonjour merci peux peut dois
    der die das den dem des ein eine einen einem einer und oder aber mit ohne fur von zu im in
    am an auf ich mein meine mich mir du dein deine sie ihr ihre wir unser es ist sind bin wie
    was wann wo warum nicht kein keine sehr hallo danke kann konnen muss bitte
    """
)
# Suffixes cut by the light stemmer, longest first: enough for "resetting"/"reset",
# "redefinir"/"redefina"/"redefinição", "invoices"/"invoice" to meet.
_SUFFIXES = (
    "amentos",
    "imentos",
    "amento",
    "imento",
    "mente",
    "ations",
    "icoes",
    "acoes",
    "ation",
    "ments",
    "icao",
    "acao",
    "ment",
    "ings",
    "ness",
    "ados",
    "adas",
    "idos",
    "idas",
    "ing",
    "ado",
    "ada",
    "ido",
    "ida",
    "ed",
    "er",
    "ir",
    "ar",
)


def stem(word: str) -> str:
    """A deliberately light multilingual stemmer: the same cuts on query and passage words."""
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if suffix in ("ing", "ed") and _DOUBLED_END.search(word):
                word = word[:-1]
            break
    if len(word) > 3 and word[-1] in "aeiouy":
        word = word[:-1]
    return word


def terms(text: str) -> set[str]:
    """The stemmed topic words of a text."""
    return {stem(word) for word in _TOKEN.findall(fold(text)) if word not in _STOPWORDS}


def clean_inline(text: str) -> str:
    """Plain text for the chat: no bold or code markers, no heading hashes."""
    return " ".join(_EMPHASIS.sub("", _HEADING_MARKER.sub("", text)).split())


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph; a break before a lower-case word is an abbreviation ("e.g. x")."""
    sentences: list[str] = []
    for piece in _SENTENCE_BREAK.split(text.strip()):
        if sentences and piece[:1].islower():
            sentences[-1] += " " + piece
        elif piece:
            sentences.append(piece)
    return sentences


def is_instruction_to_assistant(text: str) -> bool:
    return bool(_INSTRUCTION_TO_ASSISTANT.search(fold(text)))


@dataclass
class Unit:
    """One quotable piece of a passage: a sentence, or a whole list item (a step)."""

    index: int
    text: str  # cleaned, without the list marker
    marker: str = ""  # "1.", "-": set for list items
    list_id: int = -1
    terms: set[str] = field(default_factory=set)
    # Share of the query's weighted words this unit contains; set per run.
    relevance: float = 0.0

    @property
    def is_step(self) -> bool:
        return bool(self.marker)

    def display(self) -> str:
        return f"{self.marker} {self.text}" if self.marker else self.text


def passage_units(content: str) -> list[Unit]:
    """Sentences and list items of a passage, in document order."""
    units: list[Unit] = []
    paragraph: list[str] = []
    list_id = -1
    in_list = False

    def end_paragraph() -> None:
        for sentence in split_sentences(" ".join(paragraph)):
            text = clean_inline(sentence)
            if text:
                units.append(Unit(index=len(units), text=text, terms=terms(text)))
        paragraph.clear()

    for line in content.split("\n"):
        item = _LIST_ITEM.match(line)
        if item:
            end_paragraph()
            if not in_list:
                list_id += 1
                in_list = True
            text = clean_inline(item.group(2))
            units.append(Unit(len(units), text, item.group(1), list_id, terms(text)))
        elif not line.strip():
            end_paragraph()
        elif in_list and line.startswith((" ", "\t")) and units:
            # An indented line continues the list item above it.
            units[-1].text = clean_inline(units[-1].text + " " + line)
            units[-1].terms = terms(units[-1].text)
        else:
            in_list = False
            paragraph.append(line)
    end_paragraph()
    return units


@dataclass
class Passage:
    document: Document
    rank: int
    units: list[Unit]
    heading_terms: set[str]
    coverage: float = 0.0
    score: float = 0.0

    @property
    def article_key(self) -> str:
        meta = self.document.meta
        return str(meta.get("external_id") or meta.get("article_id") or self.document.id)

    @property
    def title(self) -> str:
        meta = self.document.meta
        heading_path = str(meta.get("heading_path") or "")
        return str(meta.get("title") or heading_path.split(" > ")[0]).strip()


@component
class GroundedComposer:
    """Answers from the retrieved passages only: their most relevant sentences and steps, in
    their order, framed by a localised intro and followed by the sources.

    Relevance is the share of the query's topic words (stemmed, weighted by how rare they are
    among the passages) that a passage's text and heading contain, plus a little for its retrieval
    rank. The best passage is quoted whole when it fits the length cap (it is the section that
    answers the question), other close passages contribute only their sentences that share a word
    with the query. Passages in the customer's language are preferred; when only another language
    has them, the framing says so and the passage is quoted as it is. Nothing relevant ->
    `answered` is False and the reply is empty, so the flow falls back and hands off.
    """

    def __init__(
        self,
        max_sentences: int = 5,
        max_steps: int = 8,
        max_articles: int = 2,
        min_coverage: float = 0.2,
        rank_weight: float = 0.2,
        keep_ratio: float = 0.8,
    ) -> None:
        self.max_sentences = max_sentences
        self.max_steps = max_steps
        self.max_articles = max_articles
        # Below this share of the query's weighted words, a passage does not answer the question.
        self.min_coverage = min_coverage
        self.rank_weight = rank_weight
        # Other passages (and a second article) are quoted when they score this close to the best.
        self.keep_ratio = keep_ratio

    @component.output_types(
        reply=str,
        citations=list[dict[str, str]],
        passages=list[dict[str, Any]],
        answered=bool,
    )
    def run(self, query: str, documents: list[Document], language: str = "en") -> dict[str, Any]:
        language = (language or "en").lower()[:2]
        own: list[tuple[int, Document]] = []
        other: list[tuple[int, Document]] = []
        for rank, document in enumerate(documents):
            if not (document.content or "").strip():
                continue
            locale = str(document.meta.get("locale") or "").lower()[:2]
            # A passage of unknown locale is taken to be in the customer's language.
            (own if locale in ("", language) else other).append((rank, document))

        chosen = self._choose(query, own, trust_rank=False)
        if not chosen and other:
            # Across languages the query shares few words with the passage, so the retrieval's
            # own judgement (its rank, after the flow's confidence threshold) has to be trusted.
            chosen = self._choose(query, other, trust_rank=True)
        if not chosen:
            return {"reply": "", "citations": [], "passages": [], "answered": False}
        return self._compose(chosen, language)

    # --- Choosing what to quote -------------------------------------------------------------------

    def _choose(
        self, query: str, ranked: list[tuple[int, Document]], *, trust_rank: bool
    ) -> list[tuple[Passage, list[Unit]]]:
        if not ranked:
            return []
        passages = [
            Passage(
                document=document,
                rank=position,
                units=[
                    unit
                    for unit in passage_units(document.content or "")
                    if not is_instruction_to_assistant(unit.text)
                ],
                heading_terms=terms(str(document.meta.get("heading_path") or "").split(" > ")[-1]),
            )
            for position, (_, document) in enumerate(ranked)
        ]
        passages = [passage for passage in passages if passage.units]
        if not passages:
            return []
        query_terms = terms(query)
        weights = self._rarity(query_terms, passages)
        self._score(passages, query_terms, weights)

        best = max(passages, key=lambda passage: passage.score)
        if best.coverage < self.min_coverage:
            return self._by_rank(passages) if trust_rank else []

        article_order: list[str] = []
        for passage in sorted(passages, key=lambda p: -p.score):
            if passage.article_key in article_order or len(article_order) >= self.max_articles:
                continue
            if not article_order or (
                passage.coverage >= self.min_coverage
                and passage.score >= self.keep_ratio * best.score
            ):
                article_order.append(passage.article_key)

        budget = {"sentences": self.max_sentences, "steps": self.max_steps}
        picked: dict[int, list[Unit]] = {id(best): self._whole_or_relevant(best, budget)}
        for passage in sorted(passages, key=lambda p: -p.score):
            if passage is best or passage.article_key not in article_order:
                continue
            if passage.coverage < self.min_coverage or passage.score < self.keep_ratio * best.score:
                continue
            units = self._relevant(passage, budget)
            if units:
                picked[id(passage)] = units

        chosen = [(passage, picked[id(passage)]) for passage in passages if id(passage) in picked]
        # Articles in order of relevance; within one, passages in the article's own order.
        chosen.sort(
            key=lambda item: (
                article_order.index(item[0].article_key),
                item[0].document.meta.get("position", item[0].rank),
                item[0].rank,
            )
        )
        return [(passage, units) for passage, units in chosen if units]

    def _by_rank(self, passages: list[Passage]) -> list[tuple[Passage, list[Unit]]]:
        """The top passage, with the article's other top-ranked passages that fit whole."""
        budget = {"sentences": self.max_sentences, "steps": self.max_steps}
        top = passages[0]
        chosen = [(top, self._whole_or_relevant(top, budget))]
        for passage in passages[1:3]:
            if passage.article_key == top.article_key and self._fits(passage, budget):
                chosen.append((passage, self._whole_or_relevant(passage, budget)))
        chosen.sort(key=lambda item: (item[0].document.meta.get("position", 0), item[0].rank))
        return [(passage, units) for passage, units in chosen if units]

    @staticmethod
    def _fits(passage: Passage, budget: dict[str, int]) -> bool:
        steps = sum(1 for unit in passage.units if unit.is_step)
        return steps <= budget["steps"] and len(passage.units) - steps <= budget["sentences"]

    @staticmethod
    def _rarity(query_terms: set[str], passages: list[Passage]) -> dict[str, float]:
        units = [unit.terms for passage in passages for unit in passage.units]
        total = len(units)
        weights = {}
        for term in query_terms:
            frequency = sum(1 for unit_terms in units if term in unit_terms)
            # A word in no passage gets the highest weight: the question is about something the
            # passages do not mention, which lowers their coverage as it should.
            weights[term] = math.log(1 + total / max(frequency, 1))
        return weights

    def _score(
        self, passages: list[Passage], query_terms: set[str], weights: dict[str, float]
    ) -> None:
        total = sum(weights.values()) or 1.0
        for passage in passages:
            text_terms = set().union(*(unit.terms for unit in passage.units))
            in_text = sum(weights[term] for term in query_terms & text_terms) / total
            in_heading = sum(weights[term] for term in query_terms & passage.heading_terms) / total
            passage.coverage = max(in_text, in_heading)
            # The heading says what a whole section is about, so a match there counts beside the
            # text's; the rank breaks ties between sections that share the query's words.
            passage.score = 0.6 * in_text + 0.4 * in_heading + self.rank_weight / (1 + passage.rank)
            for unit in passage.units:
                unit_weight = sum(weights[term] for term in query_terms & unit.terms)
                unit.relevance = unit_weight / total

    def _whole_or_relevant(self, passage: Passage, budget: dict[str, int]) -> list[Unit]:
        if self._fits(passage, budget):
            steps = sum(1 for unit in passage.units if unit.is_step)
            budget["sentences"] -= len(passage.units) - steps
            budget["steps"] -= steps
            return list(passage.units)
        return self._relevant(passage, budget, whole_lists=True)

    def _relevant(
        self, passage: Passage, budget: dict[str, int], *, whole_lists: bool = False
    ) -> list[Unit]:
        def relevance(unit: Unit) -> float:
            return unit.relevance

        heading_matches = passage.coverage > 0 and not any(u.relevance for u in passage.units)
        picked: list[Unit] = []
        # A procedure is kept together: all its steps in order, the first ones when it is long.
        lists: dict[int, list[Unit]] = {}
        for unit in passage.units:
            if unit.is_step:
                lists.setdefault(unit.list_id, []).append(unit)
        for items in lists.values():
            if budget["steps"] <= 0:
                break
            if not whole_lists and len(items) > budget["steps"]:
                # Only the best passage may shorten a procedure; a secondary one quoting the
                # first steps of another procedure would mislead.
                continue
            if whole_lists or heading_matches or any(relevance(unit) for unit in items):
                if len(items) > budget["steps"] and not items[0].marker[0].isdigit():
                    # A bullet list is not a sequence: keep its most relevant items.
                    items = sorted(items, key=lambda u: (-relevance(u), u.index))
                kept = items[: budget["steps"]]
                budget["steps"] -= len(kept)
                picked.extend(kept)
        sentences = [unit for unit in passage.units if not unit.is_step]
        candidates = [u for u in sentences if relevance(u) > 0] or (
            sentences[:1] if heading_matches or whole_lists else []
        )
        candidates.sort(key=lambda unit: (-relevance(unit), unit.index))
        kept_sentences = candidates[: max(budget["sentences"], 0)]
        budget["sentences"] -= len(kept_sentences)
        picked.extend(kept_sentences)
        return sorted(picked, key=lambda unit: unit.index)

    # --- Writing the reply ------------------------------------------------------------------------

    def _compose(self, chosen: list[tuple[Passage, list[Unit]]], language: str) -> dict[str, Any]:
        lines: list[str] = []
        citations: list[dict[str, str]] = []
        passages: list[dict[str, Any]] = []
        seen_articles: list[str] = []
        for passage, units in chosen:
            meta = passage.document.meta
            if passage.article_key not in seen_articles:
                seen_articles.append(passage.article_key)
                if lines:
                    lines.append("")
                lines.append(self._intro(passage, language))
                citations.append(
                    {
                        "external_id": str(meta.get("external_id") or ""),
                        "title": passage.title,
                        "url": str(meta.get("url") or ""),
                    }
                )
            lines.extend(self._excerpt_lines(units))
            passages.append(
                {
                    "external_id": str(meta.get("external_id") or ""),
                    "heading_path": str(meta.get("heading_path") or ""),
                    "sentences": [unit.display() for unit in units],
                }
            )
        with translation.override(framing_language(language)):
            label = _source_label()
        lines.append("")
        for citation in citations:
            link = f" ({citation['url']})" if citation["url"] else ""
            lines.append(f"{label} {citation['title'] or citation['external_id']}{link}".rstrip())
        return {
            "reply": "\n".join(lines),
            "citations": citations,
            "passages": passages,
            "answered": True,
        }

    @staticmethod
    def _excerpt_lines(units: list[Unit]) -> list[str]:
        """Steps one per line; consecutive sentences of a passage as one paragraph."""
        lines: list[str] = []
        previous: Unit | None = None
        for unit in units:
            joins = (
                previous is not None
                and not unit.is_step
                and not previous.is_step
                and unit.index == previous.index + 1
            )
            if joins:
                lines[-1] += " " + unit.text
            else:
                lines.append(unit.display())
            previous = unit
        return lines

    @staticmethod
    def _intro(passage: Passage, language: str) -> str:
        locale = str(passage.document.meta.get("locale") or "").lower()[:2]
        with translation.override(framing_language(language)):
            if locale and locale != language:
                name = _language_names().get(locale)
                if name:
                    return _only_in_language_note(name)
                return _not_in_your_language_note()
            if passage.title:
                return _titled_intro(passage.title)
            return _untitled_intro()
