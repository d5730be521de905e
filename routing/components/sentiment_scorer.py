from __future__ import annotations

import math
import re
import unicodedata
from difflib import SequenceMatcher
from typing import Any

from haystack import component

# How much each frustration signal pulls VADER's compound down. Additive, so two signals on a
# neutral message already reach -0.5 to -0.6: an admin rule "escalate at or below -0.5" then
# catches "still not working, production is down" even when the words themselves are neutral.
DEFAULT_PENALTIES: dict[str, float] = {
    "repetition": 0.3,
    "third_time": 0.3,
    "all_caps": 0.25,
    "profanity": 0.35,
    "business_impact": 0.25,
    # Small: asking for a person is not anger, and `wants_human` already lets a rule hand off.
    "human_request": 0.1,
}

# The default of the "escalate on frustration" rule, chosen with `manage.py evaluate_sentiment`.
SUGGESTED_ESCALATION_THRESHOLD = -0.5

# VADER's own normalisation constant, so the fallback lexicon's compound reads on the same scale.
_VADER_ALPHA = 15.0


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_HANDLE_OR_URL = re.compile(r"@\w+|https?://\S+|www\.\S+")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


_APOSTROPHES = "\u2019\u2018`\u00b4"


def fold(text: str) -> str:
    """Lower-cases, drops accents and straightens apostrophes, one character for one.

    Keeping the length lets a match on the folded text point back at the customer's own words
    for the evidence, while one pattern covers "à"/"a", "não"/"nao" and a curly apostrophe/"'".
    """
    folded = []
    for char in text:
        lowered = char.lower()
        base = unicodedata.normalize("NFKD", lowered)[:1] if len(lowered) == 1 else char
        folded.append("'" if base in _APOSTROPHES else base or char)
    return "".join(folded)


def _phrases(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(patterns) + r")(?!\w)")


# Patterns run on folded text (lower case, no accents), and every language's patterns run on every
# message: language detection is unreliable on one short message, and customers mix languages.
_THIRD_TIME = _phrases(
    # en
    r"(?:third|fourth|fifth|3rd|4th|5th|\d+th|umpteenth|nth) time",
    r"(?:already|previously) (?:asked|told|said|explained|called|contacted|sent|reported|written)",
    r"i'?(?:ve| have) (?:already )?(?:asked|told you|explained|reported) (?:this|that|it) "
    r"(?:before|already|twice)",
    r"again and again|over and over(?: again)?|time and (?:time )?again|yet again|once again",
    r"still (?:not|no|nothing|waiting|broken|can'?t|cannot|haven'?t|hasn'?t|doesn'?t|"
    r"isn'?t|won'?t|didn'?t|don'?t|unable)",
    r"how many (?:more )?times",
    r"keep (?:asking|telling|calling|getting the same)",
    # pt
    r"(?:terceira|quarta|quinta|3a|4a|3ª|enesima) vez",
    r"(?:eu )?ja (?:perguntei|pedi|falei|disse|expliquei|liguei|reclamei|informei|mandei|enviei)",
    r"de novo e de novo|mais uma vez|outra vez",
    r"ainda (?:nao|nada|sem|estou esperando)|continua sem|continuo sem|sigo sem",
    r"quantas vezes",
    # es
    r"(?:tercera|cuarta|quinta|3a|3ra|4ta|enesima) vez",
    r"ya (?:pregunte|pedi|dije|explique|llame|reclame|informe|escribi|lo dije|te dije|les dije)",
    r"una y otra vez|otra vez|de nuevo",
    r"todavia (?:no|nada|sin|espero|estoy esperando)|aun (?:no|nada|sin)|sigue sin|sigo sin",
    r"cuantas veces",
    # fr
    r"(?:troisieme|quatrieme|cinquieme|3e|3eme|4e|nieme|enieme) fois",
    r"(?:j'ai )?deja (?:demande|dit|explique|appele|signale|ecrit|envoye)",
    r"encore et encore|encore une fois|une fois de plus",
    r"toujours (?:pas|rien|aucun|aucune|en attente|bloque)",
    r"combien de fois",
    # de
    r"(?:zum )?(?:dritten|vierten|funften|x-ten|zigsten) mal|(?:zum )?[3-9]\. mal",
    r"(?:schon|bereits) (?:gefragt|gesagt|erklart|angerufen|gemeldet|geschrieben|mehrmals|"
    r"zweimal|dreimal|wieder)",
    r"immer wieder|wieder einmal|schon wieder",
    r"immer noch (?:nicht|kein|keine|nichts)|noch immer (?:nicht|kein|keine|nichts)",
    r"wie oft (?:noch|denn|muss|soll)",
)

_BUSINESS_IMPACT = _phrases(
    # en
    r"outages?|downtime",
    r"(?:is|are|'s|went|goes|been|was|were|keeps going) (?:completely |totally |all )?down",
    r"(?:site|website|server|servers|system|service|app|platform|api|checkout|payments?) "
    r"(?:is|are|'s) (?:down|broken|not working|offline)",
    r"(?:production|prod)(?: is| are|'s)? (?:down|broken|offline|not working|on fire)",
    r"(?:losing|lost|lose|costing (?:us|me)) (?:\w+ )?(?:money|customers|clients|sales|"
    r"business|revenue|orders|deals)",
    r"(?:can'?t|cannot|unable to|not able to) (?:\w+ )?(?:invoice|bill|ship|sell|take payments|"
    r"get paid|pay (?:my|our) (?:staff|employees)|work)",
    r"deadlines?|business critical|mission critical|urgent(?:ly)?|emergency",
    # pt
    r"fora do ar|(?:sistema|site|servidor|plataforma|producao) (?:esta |ta )?"
    r"(?:parad[oa]|caid[oa]|quebrad[oa]|fora do ar|fora)|(?:caiu|cairam) (?:tudo|o sistema|o site)",
    r"perdendo (?:\w+ )?(?:dinheiro|clientes|vendas|negocios|pedidos)",
    r"nao (?:consigo|conseguimos|da para|posso|podemos) (?:\w+ )?(?:faturar|emitir|cobrar|vender"
    r"|trabalhar)",
    r"prazos?|urgente|urgencia",
    # es
    r"(?:sistema|sitio|web|servidor|plataforma|produccion) (?:esta |sigue )?"
    r"(?:caid[oa]|rot[oa]|parad[oa]|fuera de servicio)",
    r"fuera de servicio|se cayo (?:todo|el sistema)",
    r"perdiendo (?:\w+ )?(?:dinero|clientes|ventas|negocio|pedidos)",
    r"no (?:puedo|podemos) (?:\w+ )?(?:facturar|cobrar|vender|trabajar|emitir facturas)",
    r"fecha limite|plazos?",
    # fr
    r"(?:en )?pannes?|hors service|hors ligne",
    r"(?:la )?production (?:est )?(?:cassee|en panne|a l'arret|bloquee|plantee)",
    r"(?:perdre|perdons|perd|perdu|perte) (?:\w+ )?(?:d'argent|de l'argent|des clients|de clients"
    r"|des ventes|du chiffre)",
    r"(?:impossible de|ne (?:peux|pouvons|peut) (?:pas|plus)) (?:\w+ )?(?:facturer|encaisser"
    r"|vendre|travailler)",
    r"date limite|echeance",
    # de
    r"ausfall|ausgefallen|(?:ist|sind) (?:komplett |total )?(?:down|offline|ausgefallen)",
    r"(?:produktion|produktivsystem|system|server|shop) (?:steht|ist kaputt|ist down|lauft nicht)",
    r"(?:verlieren|verliere|verloren) (?:\w+ )?(?:geld|kunden|umsatz|auftrage)",
    r"(?:kann|konnen) (?:\w+ )?(?:nicht|keine) (?:\w+ )?(?:abrechnen|rechnungen|fakturieren"
    r"|verkaufen|arbeiten)",
    r"frist|dringend",
)

_HUMAN_REQUEST = _phrases(
    # en: "human" only as the person asked for, never "human resources" or "human error".
    r"(?:talk|speak|chat|get through|be put through) (?:to|with) (?:a |an |some |your |the )?"
    r"(?:real |actual |live |human |customer service )?"
    r"(?:human(?! resources| error)|person|agent|representative|rep|someone|somebody|"
    r"manager|supervisor|operator)",
    r"(?:want|need|get me|give me|connect me (?:to|with)|transfer me to|put me through to) "
    r"(?:a |an |to a |to an )?(?:real |actual |live )?(?:human(?! resources| error)|person"
    r"|agent|representative|manager|supervisor)",
    r"(?:real|actual|live) (?:human|person)|human (?:agent|being|support)|live agent",
    # pt
    r"falar com (?:um |uma |o |a |algum |alguma )?(?:atendente|humano|pessoa|agente|gerente"
    r"|supervisor|representante|alguem|ser humano)",
    r"atendimento humano|(?:pessoa|atendente) (?:de verdade|real)|quero um humano",
    # es
    r"hablar con (?:un |una |el |la |algun |alguna )?(?:persona|humano|agente|asesor|asesora"
    r"|representante|operador|operadora|supervisor|gerente|alguien|ser humano)",
    r"atencion humana|persona real|agente humano",
    # fr: "parler à personne" means "talk to nobody", so "personne" needs its article.
    r"parler (?:a|avec) (?:quelqu'un|(?:un |une |le |la |un vrai |une vraie )(?:conseiller"
    r"|conseillere|humain|agent|operateur|operatrice|responsable|etre humain|interlocuteur"
    r"|personne))",
    r"(?:vrai|vraie) (?:personne|humain)|etre humain|conseiller humain",
    # de
    r"(?:mit )?(?:(?:einen|einem|einer|eine) (?:echten |realen |richtigen )?(?:menschen"
    r"|mitarbeiter|mitarbeiterin|berater|beraterin|person|agenten|ansprechpartner|kundenberater)"
    r"|jemandem)(?: [\w-]+){0,3} (?:sprechen|reden|verbinden|verbunden)",
    r"(?:verbinden sie mich|verbindet mich) mit|echte[nm]? menschen",
)
# Kept small and unambiguous across the five languages: "con" (fr) is "with" in es/pt, "mist"
# (de) is fog in en, so they are left out. Matched as whole words on folded text.
_PROFANITY = _phrases(
    # en
    r"fuck\w*|f\*+c?k\w*|f\*\*\*\w*|fck\w*|wtf|stfu|shit(?:s|ty|ting|head|show)?|sh\*t\w*|bullshit|crap|crappy"
    r"|damn|dammit|goddamn\w*|asshole\w*|bastards?|bitch\w*|cunts?|dick(?:head)?s?|piss(?:ed)?"
    r"|screw you",
    # pt
    r"porra|caralho|merda|foda(?:-se)?|fodido|puta que pariu|bosta|droga",
    # es
    r"mierda|joder|jodid[oa]s?|carajo|puta madre|cabron\w*|hostia|coño|pendej\w*",
    # fr
    r"merde|putain|bordel|connard\w*|connasse|salaud|fait chier|foutu\w*",
    # de
    r"schei(?:ss|ß)e?\w*|verdammt\w*|arschloch|mist(?:stuck|laden)|kacke|drecks\w*",
)

# Upper-case words that are names of things, not shouting; words without a vowel ("DFW", "HTML")
# count as acronyms too.
_ACRONYMS = _word_set(
    "API SSO CSV PDF URL FAQ SLA SMS MFA OTP VPN DNS SSL TLS HTTP HTTPS JSON XML SQL CRM ERP "
    "IBAN SWIFT USA UK EU USD EUR GBP BRL ATM PIN ETA ASAP FYI AWS GCP IOS IMEI SIM ISP IVR "
    "CEO CTO CFO OK NASA UPS DHL FEDEX USPS NHS BBC CNN IBM SAP AI ID IT PT ES FR DE EN"
)
_VOWELS = frozenset("AEIOUY")

# VADER only knows English. For pt/es/fr/de the compound comes from this small lexicon of strong
# negative words (folded, with VADER-like valences); there is no negation or intensifier handling,
# so the frustration signals carry most of the weight in those languages.
_NEGATIVE_WORDS: dict[str, dict[str, float]] = {
    "pt": dict.fromkeys(
        _word_set(
            "pessimo pessima horrivel terrivel ridiculo ridicula absurdo absurda lixo vergonha "
            "vergonhoso vergonhosa decepcionado decepcionada decepcao furioso furiosa irritado "
            "irritada inaceitavel odeio raiva porcaria descaso incompetente incompetentes "
            "incompetencia palhacada inutil inuteis desrespeito"
        ),
        -2.5,
    ),
    "es": dict.fromkeys(
        _word_set(
            "pesimo pesima horrible terrible ridiculo ridicula absurdo absurda basura verguenza "
            "vergonzoso vergonzosa decepcionado decepcionada decepcion furioso furiosa enojado "
            "enojada harto harta inaceptable odio incompetente incompetentes inutil inutiles asco "
            "fatal desastre estafa"
        ),
        -2.5,
    ),
    "fr": dict.fromkeys(
        _word_set(
            "nul nulle nuls horrible terrible lamentable inadmissible inacceptable scandaleux "
            "scandaleuse honteux honteuse honte decu decue deception furieux furieuse enerve "
            "enervee marre incompetent incompetents inutile catastrophe catastrophique pire "
            "deplorable minable arnaque"
        ),
        -2.5,
    ),
    "de": dict.fromkeys(
        _word_set(
            "schlecht schlechter schrecklich furchtbar katastrophe katastrophal unverschamt "
            "inakzeptabel lacherlich enttauscht wutend sauer argerlich nutzlos inkompetent "
            "frechheit skandal skandalos miserabel mies unmoglich zumutung betrug"
        ),
        -2.5,
    ),
}
# Emoji mean the same in every language; VADER reads them for English only.
_NEGATIVE_EMOJI = {"😡": -3.0, "🤬": -3.5, "😠": -2.5, "👎": -2.0, "😤": -2.0, "💩": -2.0}

# Earlier messages shorter than this say too little ("ok", "thanks") to count as a repeat.
_MIN_REPEAT_TOKENS = 3
_STOPWORDS = _word_set(
    "the a an to of and or is are i my me you your it this that for on in at with be do does "
    "can please hi hello o os as um uma de do da e que eu meu minha voce el la los las y es "
    "mi tu le les un une des du et je mon ma vous der die das und ich mein sie ist ein eine"
)


@component
class SentimentScorer:
    """Scores how upset a customer is with one message, and says why.

    `compound` is VADER's compound for English (a small strong-negative lexicon for pt/es/fr/de);
    `score` is that compound pulled down by the named frustration signals, clamped to [-1, 1], so
    an admin rule such as "escalate at or below -0.5" reads naturally. Each signal comes with the
    words that triggered it, for the trace and the handoff brief. `history` holds the customer's
    earlier messages of the conversation, oldest first, to spot a question asked again.
    """

    def __init__(
        self,
        penalties: dict[str, float] | None = None,
        repetition_threshold: float = 0.6,
        caps_share: float = 0.6,
    ) -> None:
        self.penalties = {**DEFAULT_PENALTIES, **(penalties or {})}
        self.repetition_threshold = repetition_threshold
        self.caps_share = caps_share
        self._analyzer: Any = None

    def warm_up(self) -> None:
        if self._analyzer is None:
            # Imported here so that building a pipeline does not load VADER's lexicon files.
            from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
                SentimentIntensityAnalyzer,
            )

            self._analyzer = SentimentIntensityAnalyzer()

    @component.output_types(
        score=float, compound=float, signals=list[dict[str, str]], wants_human=bool
    )
    def run(
        self, text: str, language: str = "en", history: list[str] | None = None
    ) -> dict[str, Any]:
        if self._analyzer is None:
            self.warm_up()
        folded = fold(text)
        compound = self._compound(text, folded, language)
        signals = [
            *self._repetition(text, history or []),
            *self._matches("third_time", _THIRD_TIME, text, folded),
            *self._all_caps(text),
            *self._matches("profanity", _PROFANITY, text, folded),
            *self._matches("business_impact", _BUSINESS_IMPACT, text, folded),
            *self._matches("human_request", _HUMAN_REQUEST, text, folded),
        ]
        names = {signal["name"] for signal in signals}
        score = compound - sum(self.penalties.get(name, 0.0) for name in names)
        return {
            "score": round(max(-1.0, min(1.0, score)), 4),
            "compound": round(compound, 4),
            "signals": signals,
            "wants_human": "human_request" in names,
        }

    def _compound(self, text: str, folded: str, language: str) -> float:
        lexicon = _NEGATIVE_WORDS.get(language.lower()[:2])
        if lexicon is None:
            # English, and languages without a lexicon of their own: VADER still reads emoji,
            # emoticons and the English words customers mix in.
            return float(self._analyzer.polarity_scores(text)["compound"])
        total = sum(lexicon.get(word, 0.0) for word in _WORD.findall(folded))
        total += sum(value * text.count(emoji) for emoji, value in _NEGATIVE_EMOJI.items())
        return total / math.sqrt(total * total + _VADER_ALPHA)

    def _matches(
        self, name: str, pattern: re.Pattern[str], text: str, folded: str
    ) -> list[dict[str, str]]:
        evidence = [text[m.start() : m.end()] for m in pattern.finditer(folded)]
        if not evidence:
            return []
        return [{"name": name, "evidence": ", ".join(dict.fromkeys(evidence))}]

    def _all_caps(self, text: str) -> list[dict[str, str]]:
        words = [w for w in _WORD.findall(_HANDLE_OR_URL.sub(" ", text)) if len(w) >= 3]
        shouted = [
            word
            for word in words
            if word.isupper()
            and word.upper() not in _ACRONYMS
            and any(char in _VOWELS for char in fold(word).upper())
        ]
        # Two shouted words at least: one capitalised word is emphasis ("I said NOW"), not a
        # message written in capitals.
        if len(shouted) < 2 or len(shouted) / len(words) < self.caps_share:
            return []
        return [{"name": "all_caps", "evidence": " ".join(shouted)}]

    def _repetition(self, text: str, history: list[str]) -> list[dict[str, str]]:
        tokens = _content_tokens(text)
        if len(tokens) < _MIN_REPEAT_TOKENS:
            return []
        joined = " ".join(tokens)
        for earlier in reversed(history):
            earlier_tokens = _content_tokens(earlier)
            # Only a question asked again is frustration: customers repeat their order number or
            # address because the agent asked for it. On TweetSumm, repeats without a question
            # mark were almost all such answers.
            if len(earlier_tokens) < _MIN_REPEAT_TOKENS or "?" not in text + earlier:
                continue
            overlap = len(set(tokens) & set(earlier_tokens)) / len(
                set(tokens) | set(earlier_tokens)
            )
            similarity = SequenceMatcher(None, joined, " ".join(earlier_tokens)).ratio()
            if max(overlap, similarity) >= self.repetition_threshold:
                return [{"name": "repetition", "evidence": earlier.strip()}]
        return []


def _content_tokens(text: str) -> list[str]:
    words = _WORD.findall(fold(_HANDLE_OR_URL.sub(" ", text)))
    return [word for word in words if word not in _STOPWORDS]
