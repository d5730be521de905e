"""HandoffBriefWriter: what a human agent reads when the AI hands a conversation over.

Offline and extractive, like the GroundedComposer: what the customer wants is one or two of their
own sentences, copied, never paraphrased, so the brief cannot misstate the request. The rest is
counted or copied from the conversation (reason, articles tried, sentiment), and the suggested
first reply is a few fixed sentences in the customer's language around their own words.

No database: the writer is pure conversation in, brief out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from django.utils import translation
from django.utils.translation import gettext
from haystack import component

from routing.components.grounded_composer import stem, terms

# The scorer's pattern is private to it; it is shared rather than copied so that the scorer and
# the brief agree on what asking for a person looks like in the five languages.
from routing.components.sentiment_scorer import _HUMAN_REQUEST, fold

# The console is in English, so the agent reads the reason in English whatever the customer writes.
REASON_WORDS: dict[str, str] = {
    "low_confidence": "the AI found no confident answer in the help center",
    "sentiment": "the customer seemed frustrated",
    "human_request": "the customer asked for a human",
    "rule": "a handoff rule matched",
    "ai_turns": "the AI reached its limit of replies without resolving it",
}

CUSTOMER_FIELDS = ("name", "email", "plan", "attributes")

# What marks a sentence as the request: a question, a want or need, something that fails.
# Matched on folded text (lower case, no accents), every language on every message, as in the
# scorer: customers mix languages and one short message is too little to detect one.
_REQUEST_CUE = re.compile(
    r"[?¿]|(?<!\w)(?:"
    # en
    r"how (?:do|can|could|should|does|to)|why|what|where|when|which"
    r"|can you|could you|would you|is it possible"
    r"|i (?:want|need|would like|'d like|wish)|i'?m trying"
    r"|can'?t|cannot|can not|couldn'?t|unable to|not able to"
    r"|(?:doesn'?t|does not|don'?t|isn'?t|is not|won'?t|didn'?t|not) work(?:s|ing)?"
    r"|wrong|error|broken|fail(?:s|ed|ing)?|missing|stuck|locked out"
    # pt
    r"|como (?:eu|faco|posso|consigo|se)|por que|quero|queria|gostaria|preciso"
    r"|nao (?:consigo|consegui|funciona|esta funcionando|aparece)|erro|errad[oa]"
    # es
    r"|como (?:puedo|hago|se)|quiero|quisiera|necesito"
    r"|no (?:puedo|funciona|me deja|aparece)|equivocad[oa]"
    # fr
    r"|comment|pourquoi|je (?:veux|voudrais|souhaite)|j'aimerais|j'ai besoin"
    r"|(?:ne|n') ?(?:peux|arrive) pas|impossible de|ne (?:fonctionne|marche) (?:pas|plus)|erreur"
    # de
    r"|wie (?:kann|konnen|mache|geht|funktioniert)|warum|wieso|weshalb"
    r"|ich (?:mochte|will|brauche|muss)|(?:kann|konnen) (?:\w+ )?nicht"
    r"|(?:funktioniert|geht|klappt) (?:\w+ )?nicht|fehler"
    r")(?!\w)"
)


def _stems(words: str) -> frozenset[str]:
    return frozenset(stem(word) for word in words.split())


# Words that say nothing about the topic: greetings, thanks, calls for help, complaints and
# frustration fillers, folded. A sentence made only of these (and stopwords) is noise. Words that
# are also product vocabulary ("agent", "support ticket", "tag") are left out on purpose; asking
# for a person is caught by the scorer's pattern instead.
_NOISE_TERMS = _stems(
    """
    hi hello hey hiya anyone anybody there thanks thank thx ty cheers ok okay great cool good
    morning afternoon evening help question problem issue ridiculous absurd terrible awful
    horrible useless unacceptable joke annoying frustrating stupid worst third fourth time times
    ask asked asking again already still wait waiting need want like please pls isn doesn don
    didn won wasn aren haven hasn couldn
    ola oi bom boa dia tarde noite obrigado obrigada valeu beleza ajuda ajudar pergunta problema
    duvida ridiculo absurdo pessimo horrivel terrivel lixo inutil inaceitavel vergonha alguem
    quero queria gostaria
    hola buenos buenas dias tardes noches gracias ayuda ayudar pregunta duda pesimo horrible
    terrible basura inaceptable verguenza alguien quiero quisiera
    bonjour bonsoir salut coucou merci aide aider probleme ridicule absurde nul nulle inutile
    inacceptable inadmissible honte quelqu veux voudrais aimerais besoin puis pouvez
    hallo servus moin guten morgen abend danke dankeschon vielen dank hilfe helfen frage
    lacherlich schrecklich furchtbar nutzlos unverschamt inakzeptabel jemand mochte brauche
    """
)

_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+|\s*\n\s*")
_WORD_CUT = re.compile(r"\s+\S*$")


class Weight(IntEnum):
    """How much a sentence says about what the customer wants."""

    NOISE = 0  # greetings, thanks, complaints, "let me talk to a human"
    DETAIL = 1  # informative, but not phrased as a request ("My invoice shows 40 EUR.")
    REQUEST = 2  # a question, a need or a failure about something ("How do I cancel?")


@dataclass(frozen=True)
class Sentence:
    text: str
    message: int
    position: int
    topic: frozenset[str]
    weight: Weight
    asks_for_human: bool


def customer_sentences(messages: list[str]) -> list[Sentence]:
    """Every sentence of the customer's messages, trimmed and weighed, oldest first."""
    sentences = []
    for message_index, message in enumerate(messages):
        pieces = (" ".join(piece.split()) for piece in _SENTENCE_BREAK.split(message.strip()))
        for position, text in enumerate(piece for piece in pieces if piece):
            folded = fold(text)
            # Asking for a person is not the request, but "talk to a human about my refund" is.
            rest = _HUMAN_REQUEST.sub(" ", folded)
            topic = frozenset(terms(rest) - _NOISE_TERMS)
            sentences.append(
                Sentence(
                    text=text,
                    message=message_index,
                    position=position,
                    topic=topic,
                    weight=_weigh(rest, topic),
                    asks_for_human=rest != folded,
                )
            )
    return sentences


def _weigh(folded: str, topic: frozenset[str]) -> Weight:
    # One topic word is enough for a request ("How do I cancel?"); a statement needs two, so
    # that "ok that worked" or "this is a joke" do not pass for what the customer wants.
    if topic and _REQUEST_CUE.search(folded):
        return Weight.REQUEST
    return Weight.DETAIL if len(topic) >= 2 else Weight.NOISE


def cap(text: str, limit: int) -> str:
    """At most `limit` characters, cut before a word that does not fit, with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if not text[limit - 1].isspace():
        # The cut fell inside a word: drop its start. One giant token (a URL) is cut as it is.
        head = _WORD_CUT.sub("", head) or head
    return head.rstrip(" ,;:-") + "…"


def trend(scores: list[float], dead_band: float) -> str:
    """The latest score against the mean of the earlier ones; a smaller move is "steady".

    The mean rather than the previous score, so one odd message does not decide the trend; the
    dead band so that the scorer's noise on neutral messages does not read as a change of mood.
    """
    if len(scores) < 2:
        return "steady"
    change = scores[-1] - sum(scores[:-1]) / (len(scores) - 1)
    if change <= -dead_band:
        return "worsening"
    if change >= dead_band:
        return "improving"
    return "steady"


def language_name(code: str) -> str:
    try:
        return str(translation.get_language_info(code)["name"])
    except KeyError:
        return code


@component
class HandoffBriefWriter:
    """Writes the brief a human agent reads to take over a conversation without reading it all.

    "wants" is the request taken from the latest message that has one, in the customer's words;
    the suggested reply greets, acknowledges the handoff (with an apology when the customer is
    upset or had to ask more than once) and quotes that request when it is short.
    """

    def __init__(
        self,
        max_wants_chars: int = 300,
        max_quote_chars: int = 160,
        trend_dead_band: float = 0.2,
        apology_below: float = -0.25,
        repeat_overlap: float = 0.5,
    ) -> None:
        self.max_wants_chars = max_wants_chars
        # Longer requests are not quoted back: a wall of the customer's own text reads as a bot.
        self.max_quote_chars = max_quote_chars
        self.trend_dead_band = trend_dead_band
        # Below the scorer's penalty for a lone human request (-0.1), so that asking for a person
        # is not treated as anger, and above its penalty for a repeated question (-0.3).
        self.apology_below = apology_below
        # Share of topic words two messages have in common to count as the same request again.
        self.repeat_overlap = repeat_overlap

    @component.output_types(brief=dict[str, Any])
    def run(
        self,
        messages: list[str],
        language: str,
        reason: str,
        sentiment_scores: list[float],
        citations: list[dict[str, str]],
        ai_replies: list[str],
        customer: dict[str, Any],
    ) -> dict[str, Any]:
        language = (language or "en").strip().lower()
        sentences = customer_sentences(messages)
        wanted = self._pick_request(sentences)
        wants_text = " ".join(sentence.text for sentence in wanted)
        apologise = (
            reason == "sentiment"
            or bool(sentiment_scores and sentiment_scores[-1] < self.apology_below)
            or self._asked_repeatedly(sentences)
        )
        has_request = any(sentence.weight > Weight.NOISE for sentence in wanted)
        quote = wants_text if has_request and len(wants_text) <= self.max_quote_chars else ""
        brief = {
            "wants": cap(wants_text, self.max_wants_chars),
            "context": self._context(len(messages), len(ai_replies), reason, language),
            "reason": reason,
            "tried": {
                "articles": self._articles(citations),
                "answered": any(reply.strip() for reply in ai_replies),
            },
            "sentiment": {
                "score": round(sentiment_scores[-1], 2) if sentiment_scores else None,
                "trend": trend(sentiment_scores, self.trend_dead_band),
                "scores": [round(score, 2) for score in sentiment_scores],
            },
            "language": language,
            "language_name": language_name(language),
            "customer": {
                field: customer[field]
                for field in CUSTOMER_FIELDS
                if customer.get(field) not in (None, "", {})
            },
            "suggested_reply": self._suggested_reply(
                str(customer.get("name") or ""),
                language,
                quote=quote,
                apologise=apologise,
                has_request=has_request,
            ),
            "written_by": "extractive",
        }
        return {"brief": brief}

    # --- What the customer wants ------------------------------------------------------------------

    def _pick_request(self, sentences: list[Sentence]) -> list[Sentence]:
        """The best sentence of the latest message that says the most, and one more from it.

        Recency first: the last message triggered the handoff, and when the topic changed the
        agent must answer the new question. Noise is used only when there is nothing else.
        """
        if not sentences:
            return []
        best_weight = max(sentence.weight for sentence in sentences)
        latest = max(s.message for s in sentences if s.weight == best_weight)
        ranked = sorted(
            (s for s in sentences if s.message == latest),
            key=lambda s: (-s.weight, -len(s.topic), -s.position),
        )
        anchor, others = ranked[0], ranked[1:]
        room = self.max_wants_chars - len(anchor.text) - 1
        # A second sentence of the same message often carries the context of the request
        # ("I was charged twice this month. Why?"); it comes along only whole.
        companion = next(
            (s for s in others if s.weight > Weight.NOISE and len(s.text) <= room), None
        )
        chosen = [anchor] if companion is None else [anchor, companion]
        return sorted(chosen, key=lambda s: s.position)

    def _asked_repeatedly(self, sentences: list[Sentence]) -> bool:
        """Whether the customer asked for a person, or asked the same thing, in two messages."""
        if len({s.message for s in sentences if s.asks_for_human}) >= 2:
            return True
        requests: dict[int, set[str]] = {}
        for sentence in sentences:
            if sentence.weight == Weight.REQUEST:
                requests.setdefault(sentence.message, set()).update(sentence.topic)
        asked = list(requests.values())
        return any(
            len(first & second) / len(first | second) >= self.repeat_overlap
            for index, first in enumerate(asked)
            for second in asked[index + 1 :]
        )

    # --- For the agent ----------------------------------------------------------------------------

    @staticmethod
    def _context(customer_messages: int, ai_replies: int, reason: str, language: str) -> str:
        counted = f"{customer_messages} customer message{'' if customer_messages == 1 else 's'}"
        if ai_replies:
            counted += f" and {ai_replies} AI repl{'y' if ai_replies == 1 else 'ies'}"
        why = REASON_WORDS.get(reason, reason.replace("_", " "))
        return f"Handed off after {counted}: {why}. Language: {language_name(language)}."

    @staticmethod
    def _articles(citations: list[dict[str, str]]) -> list[dict[str, str]]:
        articles: dict[str, dict[str, str]] = {}
        for citation in citations:
            article = {
                "title": str(citation.get("title") or ""),
                "url": str(citation.get("url") or ""),
                "external_id": str(citation.get("external_id") or ""),
            }
            # The same article cited on two turns is one thing the AI tried.
            key = article["external_id"] or article["url"] or article["title"]
            articles.setdefault(key, article)
        return list(articles.values())

    # --- For the customer -------------------------------------------------------------------------

    @staticmethod
    def _suggested_reply(
        name: str, language: str, *, quote: str, apologise: bool, has_request: bool
    ) -> str:
        # Chat greetings use the given name: "Hi Ana," rather than "Hi Ana Souza,".
        first_name = name.split()[0] if name.split() else ""
        with translation.override(language):
            if first_name:
                greeting = gettext("Hi %(name)s,") % {"name": first_name}
            else:
                greeting = gettext("Hi,")
            sentences = []
            if apologise:
                sentences.append(gettext("I'm sorry for the trouble so far."))
            sentences.append(
                gettext("I'm from the support team and I'm taking over from our assistant.")
            )
            if quote:
                sentences.append(
                    gettext('I\'m looking into your request: "%(request)s"') % {"request": quote}
                )
            elif has_request:
                sentences.append(gettext("I'm looking into your request now."))
            else:
                sentences.append(gettext("How can I help you?"))
        return greeting + "\n" + " ".join(sentences)
