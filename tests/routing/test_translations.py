"""What the AI says to customers comes from the gettext catalogs in routing/locale/, in the
customer's language: the composer's framing and the default fallback and handoff texts.

No database. The catalog tests read the .po files as translators edit them and check that the
compiled .mo files, which are what runs, say the same (`make messages` compiles them).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, ngettext, npgettext, pgettext
from haystack import Document

import routing
from routing.components.grounded_composer import GroundedComposer
from routing.flow_settings import (
    DEFAULT_FALLBACK_MESSAGES,
    DEFAULT_HANDOFF_MESSAGES,
    SUPPORTED_LANGUAGES,
    FlowSettings,
)
from tests.routing.test_grounded_composer import article_passages

LOCALE_DIR = Path(routing.__file__).resolve().parent / "locale"
TRANSLATED = ("pt", "es", "fr", "de")
TITLE = "Reset your password"

# What a customer reads, per language. The translations are the ones the composer and the flow
# defaults had before they moved to the catalogs.
EXPECTED = {
    "pt": {
        "intro": f'Veja o que diz a nossa central de ajuda em "{TITLE}":',
        "untitled_intro": "Veja o que diz a nossa central de ajuda:",
        "only_in_english": "Este artigo está disponível apenas em inglês:",
        "not_in_your_language": "Este artigo ainda não está disponível no seu idioma:",
        "source": "Fonte: ",
        "fallback": "especialista humano",
        "handoff": "alguém da nossa equipe",
    },
    "es": {
        "intro": f'Esto es lo que dice nuestro centro de ayuda en "{TITLE}":',
        "untitled_intro": "Esto es lo que dice nuestro centro de ayuda:",
        "only_in_english": "Este artículo solo está disponible en inglés:",
        "not_in_your_language": "Este artículo aún no está disponible en tu idioma:",
        "source": "Fuente: ",
        "fallback": "experto humano",
        "handoff": "una persona de nuestro equipo",
    },
    "fr": {
        "intro": f"Voici ce qu'indique notre centre d'aide dans « {TITLE} » :",
        "untitled_intro": "Voici ce qu'indique notre centre d'aide :",
        "only_in_english": "Cet article n'est disponible qu'en anglais :",
        "not_in_your_language": "Cet article n'est pas encore disponible dans votre langue :",
        "source": "Source : ",
        "fallback": "je vous mets en relation avec un expert",
        "handoff": "un membre de notre équipe",
    },
    "de": {
        "intro": f"Das steht in unserem Hilfe-Center unter „{TITLE}“:",
        "untitled_intro": "Das steht in unserem Hilfe-Center:",
        "only_in_english": "Dieser Artikel ist nur auf Englisch verfügbar:",
        "not_in_your_language": "Dieser Artikel ist noch nicht in Ihrer Sprache verfügbar:",
        "source": "Quelle: ",
        "fallback": "verbinde Sie mit einem Experten",
        "handoff": "übergebe Sie an unser Team",
    },
}
QUERY = "How do I reset my password?"
FIRST_STEP = "1. Go to the sign-in page at https://app.quillboard.example/login."


@pytest.fixture(scope="module")
def english() -> list[Document]:
    return article_passages("en")


def relabelled(passages: list[Document], locale: str, *, titled: bool = True) -> list[Document]:
    """The same passages, said to be in `locale`; without a title when `titled` is False."""
    documents = []
    for passage in passages:
        meta = {**passage.meta, "locale": locale}
        if not titled:
            meta.pop("title")
            meta.pop("heading_path")
        documents.append(Document(content=passage.content, meta=meta))
    return documents


# --- The composer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_composer_introduces_an_article_in_the_customer_language(english, language):
    active = translation.get_language()

    reply = GroundedComposer().run(
        query=QUERY, documents=relabelled(english, language), language=language
    )["reply"]

    assert reply.startswith(EXPECTED[language]["intro"] + "\n")
    assert f"\n{EXPECTED[language]['source']}{TITLE} (" in reply
    # The composer translates under its own override: the caller's language is left as it was.
    assert translation.get_language() == active


@pytest.mark.parametrize("language", TRANSLATED)
def test_an_untitled_passage_gets_the_untitled_intro(english, language):
    reply = GroundedComposer().run(
        query=QUERY, documents=relabelled(english, language, titled=False), language=language
    )["reply"]

    assert reply.startswith(EXPECTED[language]["untitled_intro"] + "\n")


@pytest.mark.parametrize("language", TRANSLATED)
def test_an_english_only_article_is_quoted_with_a_note_in_the_customer_language(english, language):
    reply = GroundedComposer().run(query=QUERY, documents=english, language=language)["reply"]

    assert reply.split("\n")[0] == EXPECTED[language]["only_in_english"]
    assert FIRST_STEP in reply  # the passage itself is quoted as it is, in English
    assert f"\n{EXPECTED[language]['source']}{TITLE} (" in reply
    assert "help center says" not in reply


@pytest.mark.parametrize("language", TRANSLATED)
def test_an_article_in_a_language_without_a_name_gets_the_generic_note(english, language):
    reply = GroundedComposer().run(
        query=QUERY, documents=relabelled(english, "it"), language=language
    )["reply"]

    assert reply.startswith(EXPECTED[language]["not_in_your_language"] + "\n")


def test_a_language_without_a_catalog_is_framed_in_english(english):
    reply = GroundedComposer().run(query=QUERY, documents=english, language="nl")["reply"]

    assert reply.startswith("This article is only available in English:\n")
    assert f"\nSource: {TITLE} (" in reply


# --- The flow's default texts ---------------------------------------------------------------------


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_default_fallback_and_handoff_texts_are_in_each_language(language):
    settings_ = FlowSettings()

    assert EXPECTED[language]["fallback"] in settings_.fallback_messages[language]
    assert EXPECTED[language]["handoff"] in settings_.handoff_messages[language]
    assert settings_.fallback_messages[language] == DEFAULT_FALLBACK_MESSAGES[language]
    assert settings_.handoff_messages[language] == DEFAULT_HANDOFF_MESSAGES[language]


def test_the_defaults_cover_every_supported_language_and_english_is_the_msgid():
    assert list(DEFAULT_FALLBACK_MESSAGES) == list(SUPPORTED_LANGUAGES)
    assert list(DEFAULT_HANDOFF_MESSAGES) == list(SUPPORTED_LANGUAGES)
    assert DEFAULT_HANDOFF_MESSAGES["en"] == (
        "I'm passing you to a member of our team. They will see this conversation."
    )
    with pytest.raises(KeyError):
        DEFAULT_FALLBACK_MESSAGES["it"]


def test_a_flow_keeps_its_own_texts_and_json_stores_the_translated_defaults():
    own = {code: f"Own fallback ({code})" for code in SUPPORTED_LANGUAGES}

    edited = FlowSettings.from_json({"fallback_messages": own})
    stored = FlowSettings().to_json()

    assert edited.fallback_messages == own
    assert edited.handoff_messages == dict(DEFAULT_HANDOFF_MESSAGES)
    assert stored["handoff_messages"]["pt"].startswith("Vou transferir você")
    assert FlowSettings.from_json(stored) == FlowSettings()


def test_the_project_offers_exactly_the_supported_languages():
    assert settings.USE_I18N is True
    assert settings.LANGUAGE_CODE == "en"
    assert [code for code, _ in settings.LANGUAGES] == list(SUPPORTED_LANGUAGES)
    assert sorted(path.name for path in LOCALE_DIR.iterdir()) == sorted(TRANSLATED)


# --- The catalogs ---------------------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str
    msgstrs: list[str]
    context: str | None = None
    msgid_plural: str | None = None
    flags: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        return f"{self.context}|{self.msgid}" if self.context else self.msgid


def catalog(language: str) -> tuple[Entry, list[Entry]]:
    """The header and the entries of a language's .po file (obsolete `#~` entries left out)."""
    text = (LOCALE_DIR / language / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    entries = []
    for block in re.split(r"\n\s*\n", text):
        flags: set[str] = set()
        fields: dict[str, str] = {}
        key = ""
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                flags.update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                fields[key] += ast.literal_eval(line)
            else:
                key, _, value = line.partition(" ")
                fields[key] = ast.literal_eval(value)
        if "msgid" not in fields:
            continue
        msgstrs = [value for key, value in fields.items() if key.startswith("msgstr")]
        entries.append(
            Entry(
                msgid=fields["msgid"],
                msgstrs=msgstrs,
                context=fields.get("msgctxt"),
                msgid_plural=fields.get("msgid_plural"),
                flags=flags,
            )
        )
    assert entries and entries[0].msgid == "", "a .po file starts with its header"
    return entries[0], entries[1:]


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\(\w+\)[sd]", text))


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_entry_of_the_catalog_is_translated_and_none_is_fuzzy(language):
    header, entries = catalog(language)

    assert "fuzzy" not in header.flags
    assert f"Language: {language}\n" in header.msgstrs[0]
    assert "charset=UTF-8" in header.msgstrs[0]
    assert entries
    untranslated = [str(entry) for entry in entries if not all(entry.msgstrs)]
    fuzzy = [str(entry) for entry in entries if "fuzzy" in entry.flags]
    wrong_placeholders = [
        str(entry)
        for entry in entries
        if any(placeholders(msgstr) != placeholders(entry.msgid) for msgstr in entry.msgstrs)
    ]
    assert untranslated == [], f"translate these in routing/locale/{language} (make messages)"
    assert fuzzy == [], f"review these in routing/locale/{language} and drop the fuzzy flag"
    assert wrong_placeholders == [], "a translation must keep the msgid's %(name)s placeholders"


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalog_says_what_the_po_file_says(language):
    """Every entry of the .po file comes out translated at run time: the .mo file in the tree
    was compiled from this .po file (else run `make messages`)."""
    _, entries = catalog(language)

    with translation.override(language):
        at_run_time = {str(entry): translated(entry) for entry in entries}

    assert at_run_time == {str(entry): entry.msgstrs[0] for entry in entries}


def translated(entry: Entry) -> str:
    """The entry through gettext in the active language (a plural entry's singular, n=1)."""
    if entry.msgid_plural is None:
        if entry.context is None:
            return gettext(entry.msgid)
        return pgettext(entry.context, entry.msgid)
    if entry.context is None:
        return ngettext(entry.msgid, entry.msgid_plural, 1)
    return npgettext(entry.context, entry.msgid, entry.msgid_plural, 1)
