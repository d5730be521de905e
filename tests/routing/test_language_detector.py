"""LanguageDetector: the reply speaks the customer's language, and "ok" does not change it."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from knowledge.language import detect_language
from routing.components.language_detector import LanguageDetector

FLOW_LANGUAGES = ("en", "pt", "es", "fr", "de")

CLEAR_MESSAGES = {
    "en": "I was charged twice for my subscription this month, can you refund one of them?",
    "pt": "Não consigo acessar minha conta desde ontem, a senha nova não funciona",
    "es": "No puedo iniciar sesión en mi cuenta desde ayer, la contraseña nueva no sirve",
    "fr": "Je n'arrive plus à me connecter à mon compte depuis hier, aidez-moi s'il vous plaît",
    "de": "Ich kann mich seit gestern nicht mehr in mein Konto einloggen, bitte helfen Sie mir",
}

SAYS_LITTLE = [
    "hi",
    "ok",
    "thanks!!",
    "help",
    "export csv",
    "webhook 500",
    "Acme Cloud",
    "jane.doe@example.com",
    "https://app.example.com/settings/billing",
    "#4821 ???",
    "",
]


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    detector = LanguageDetector(languages=FLOW_LANGUAGES, default_language="en")
    detector.warm_up()
    return detector


@pytest.mark.parametrize(("language", "text"), CLEAR_MESSAGES.items())
def test_clear_messages_are_detected(detector, language, text):
    assert detector.run(text=text)["language"] == language


@pytest.mark.parametrize(("language", "text"), CLEAR_MESSAGES.items())
def test_a_clear_message_in_another_language_overrules_the_previous_one(detector, language, text):
    previous = "de" if language != "de" else "pt"
    assert detector.run(text=text, previous_language=previous)["language"] == language


@pytest.mark.parametrize("text", [*SAYS_LITTLE, "thank you", "muito obrigado", "merci beaucoup"])
@pytest.mark.parametrize("previous", ["pt", "de", "fr"])
def test_short_messages_keep_the_conversations_language(detector, text, previous):
    assert detector.run(text=text, previous_language=previous)["language"] == previous


@pytest.mark.parametrize("text", SAYS_LITTLE)
def test_short_messages_without_a_conversation_language_get_the_default(text):
    detector = LanguageDetector(languages=FLOW_LANGUAGES, default_language="es")
    assert detector.run(text=text)["language"] == "es"


def test_two_clear_words_can_set_the_language_of_a_new_conversation():
    detector = LanguageDetector(languages=FLOW_LANGUAGES, default_language="en")
    assert detector.run(text="muito obrigado")["language"] == "pt"


def test_a_previous_language_outside_the_flow_falls_back_to_the_default():
    detector = LanguageDetector(languages=FLOW_LANGUAGES, default_language="fr")
    assert detector.run(text="ok", previous_language="it")["language"] == "fr"


@pytest.mark.parametrize(
    ("text", "previous", "language"),
    [
        (
            "Meine Rechnung ist falsch, siehe https://billing.example.com/invoices/2024-06 und "
            "schreiben Sie an billing.team@example.com",
            "en",
            "de",
        ),
        ("Order 12345678 https://shop.example.com/orders/12345678 jane@example.com", "fr", "fr"),
        ("@support_team @alex.martin 0800 123 4567 ext 89", "pt", "pt"),
        ("O webhook retorna `HTTP 500 Internal Server Error` quando envio o pedido", "en", "pt"),
        (
            "El export de Google Sheets falla con ```TypeError: cannot read property 'id'```",
            "en",
            "es",
        ),
        # English product names inside a French sentence do not make it English.
        ("Je ne trouve pas Microsoft Teams Connector dans la liste des intégrations", "en", "fr"),
    ],
)
def test_links_emails_numbers_code_and_names_do_not_decide(detector, text, previous, language):
    assert detector.run(text=text, previous_language=previous)["language"] == language


def test_shouting_is_still_language(detector):
    assert detector.run(text="NADA FUNCIONA DESDE AYER Y NECESITO AYUDA")["language"] == "es"


@pytest.mark.parametrize(
    "text",
    [
        "Buongiorno, non riesco ad accedere al mio account da ieri sera",
        "Goedemorgen, ik kan sinds gisteren niet meer inloggen op mijn account",
        "Здравствуйте, я не могу войти в свой аккаунт",
        "مرحبا، لا أستطيع تسجيل الدخول إلى حسابي",
        "您好 我无法登录我的帐户",
    ],
)
def test_languages_outside_the_flow_are_never_returned(detector, text):
    result = detector.run(text=text, previous_language="it")
    assert result["language"] in FLOW_LANGUAGES
    assert set(result["candidates"]) <= set(FLOW_LANGUAGES)


def test_english_is_always_a_candidate():
    detector = LanguageDetector(languages=["pt", "es"], default_language="pt")
    result = detector.run(text="Where can I download my invoices from last year?")
    assert result["language"] == "en"


def test_a_flow_with_arabic_detects_even_short_arabic_messages():
    detector = LanguageDetector(languages=[*FLOW_LANGUAGES, "ar"])
    assert detector.run(text="شكرا جزيلا", previous_language="pt")["language"] == "ar"
    assert detector.run(text="أضف أغنية إلى this is racionais mc's playlist")["language"] == "ar"
    assert detector.run(text="thanks!!", previous_language="ar")["language"] == "ar"


def test_output_shape(detector):
    result = detector.run(text=CLEAR_MESSAGES["pt"], previous_language="en")
    assert set(result) == {"language", "confidence", "candidates", "decided_by"}
    assert result["language"] == "pt"
    assert result["decided_by"] == "detected"
    assert 0.5 < result["confidence"] <= 1.0
    assert result["confidence"] == result["candidates"]["pt"] == max(result["candidates"].values())
    assert set(result["candidates"]) == set(FLOW_LANGUAGES)
    assert sum(result["candidates"].values()) == pytest.approx(1.0, abs=0.01)


def test_output_says_why_a_short_message_kept_the_language(detector):
    assert detector.run(text="ok", previous_language="de")["decided_by"] == "previous"
    assert detector.run(text="ok")["decided_by"] == "default"


def test_warm_up_is_idempotent_and_optional():
    warmed = LanguageDetector(languages=FLOW_LANGUAGES)
    warmed.warm_up()
    warmed.warm_up()
    lazy = LanguageDetector(languages=FLOW_LANGUAGES)  # warms itself on the first run
    for text in CLEAR_MESSAGES.values():
        assert warmed.run(text=text) == lazy.run(text=text)


def test_unknown_language_codes_are_refused():
    with pytest.raises(ValueError, match="xx"):
        LanguageDetector(languages=["pt", "xx"])


def test_search_language_detection_keeps_its_signature():
    assert detect_language("Onde encontro a minha fatura de março?", {"en", "pt"}) == "pt"
    assert detect_language("ok", {"en", "pt"}, default="pt") == "pt"
    assert detect_language("Where is my invoice?", {"pt"}) == "pt"


def write_sample(tmp_path):
    xsid = [
        {"lang": "en", "text": "Set an alarm for seven tomorrow morning"},
        {"lang": "en", "text": "What is the weather like in Lisbon today?"},
        {"lang": "de", "text": "Erinnere mich morgen daran, Milch zu kaufen"},
        {"lang": "de-ba", "text": "Wia werd as Weda morgn in Minga?"},
        {"lang": "it", "text": "Imposta una sveglia per domani mattina"},
        {"lang": "ar", "text": "إعرض كل التذكيرات"},
    ]
    banking77 = [
        {"lang": "en", "variety": "en", "text": "My card has not arrived yet."},
        {"lang": "ar", "variety": "MSA", "text": "لم تصل بطاقتي بعد."},
        {"lang": "ar", "variety": "Moroccan", "text": "مازال ما وصلاتني البطاقة"},
    ]
    for folder, name, rows in [
        ("xsid", "xsid_0.7_test.jsonl", xsid),
        ("banking77", "banking77_en_ar_test.jsonl", banking77),
    ]:
        (tmp_path / folder).mkdir()
        lines = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
        (tmp_path / folder / name).write_text(lines + "\n", encoding="utf-8")
    return tmp_path


def test_evaluation_command_counts_only_enabled_languages(tmp_path):
    out = io.StringIO()
    call_command("evaluate_language", "--data", str(write_sample(tmp_path)), "--json", stdout=out)
    figures = json.loads(out.getvalue())
    xsid = figures["datasets"]["xsid"]
    assert xsid["messages"] == 3  # en, en, de; Italian and Arabic are not enabled
    assert xsid["languages"] == {
        "de": {"messages": 1, "accuracy": 1.0},
        "en": {"messages": 2, "accuracy": 1.0},
    }
    assert xsid["varieties"]["de-ba"]["expected"] == "de"  # a dialect, reported on its own
    assert figures["datasets"]["banking77"]["languages"] == {"en": {"messages": 1, "accuracy": 1.0}}
    assert figures["confusions"] == []
    assert 0 < figures["latency_ms"]["p50"] <= figures["latency_ms"]["p95"]


def test_evaluation_command_with_arabic_prints_a_report(tmp_path):
    out = io.StringIO()
    call_command(
        "evaluate_language",
        "--data",
        str(write_sample(tmp_path)),
        "--languages",
        "en,pt,es,fr,de,ar",
        stdout=out,
    )
    report = out.getvalue()
    assert "banking77: 100.00% of 3" in report
    assert "Moroccan" in report
    assert "Latency per message (warm): p50" in report
