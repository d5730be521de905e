"""SentimentScorer: frustration signals with their evidence, the score and its evaluation command.

No database: the scorer is pure text in, facts out.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from haystack import Pipeline

from routing.components.sentiment_scorer import SUGGESTED_ESCALATION_THRESHOLD, SentimentScorer


@pytest.fixture(scope="module")
def scorer() -> SentimentScorer:
    scorer = SentimentScorer()
    scorer.warm_up()
    return scorer


def signal_names(result: dict) -> set[str]:
    return {signal["name"] for signal in result["signals"]}


def evidence(result: dict, name: str) -> str:
    return next(signal["evidence"] for signal in result["signals"] if signal["name"] == name)


def test_output_shape_of_a_calm_question(scorer):
    result = scorer.run(text="How do I export my invoices to CSV?")

    assert set(result) == {"score", "compound", "signals", "wants_human"}
    assert isinstance(result["score"], float)
    assert isinstance(result["compound"], float)
    assert result["signals"] == []
    assert result["wants_human"] is False
    assert result["score"] == result["compound"] == 0.0


def test_runs_without_warm_up_and_inside_a_pipeline():
    pipeline = Pipeline()
    pipeline.add_component("sentiment", SentimentScorer())

    output = pipeline.run({"sentiment": {"text": "This is terrible, I hate it", "language": "en"}})

    assert output["sentiment"]["score"] < -0.5


def test_score_orders_calm_then_annoyed_then_angry_third_time_outage(scorer):
    calm = scorer.run(text="Hi, how can I add a teammate to my workspace?")
    annoyed = scorer.run(text="This is annoying, the export is not working.")
    angry = scorer.run(
        text="THIS IS THE THIRD TIME I ASK!!! Production is down and we are losing money.",
        history=["Production is down, can you help?", "Any news on the outage?"],
    )

    assert calm["score"] > annoyed["score"] > angry["score"]
    assert angry["score"] <= SUGGESTED_ESCALATION_THRESHOLD < annoyed["score"]
    assert -1.0 <= angry["score"] <= 1.0
    assert {"third_time", "business_impact"} <= signal_names(angry)


def test_signals_pull_the_score_below_vaders_compound(scorer):
    result = scorer.run(text="Still not working. How many times do I have to ask?")

    assert "third_time" in signal_names(result)
    assert result["score"] < result["compound"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("This is the third time I write to you", "third time"),
        ("I already asked this yesterday", "already asked"),
        ("For the 3rd time, where is my refund?", "3rd time"),
        ("It is still not fixed", "still not"),
        ("How many times do I need to explain it", "How many times"),
        ("É a terceira vez que pergunto", "terceira vez"),
        ("Ya pregunté esto dos veces", "Ya pregunté"),
        ("Combien de fois dois-je le demander ?", "Combien de fois"),
        ("Das funktioniert immer noch nicht", "immer noch nicht"),
    ],
)
def test_third_time_fires_with_the_customers_words(scorer, text, expected):
    result = scorer.run(text=text)

    assert expected in evidence(result, "third_time")


@pytest.mark.parametrize(
    "text", ["Is this the first time you see this error?", "Please try again later", "Still here?"]
)
def test_third_time_ignores_ordinary_words(scorer, text):
    assert "third_time" not in signal_names(scorer.run(text=text))


def test_all_caps_fires_on_a_shouted_message(scorer):
    result = scorer.run(text="WHY IS MY ACCOUNT LOCKED AGAIN")

    assert "all_caps" in signal_names(result)
    assert "LOCKED" in evidence(result, "all_caps")


@pytest.mark.parametrize(
    "text",
    [
        "The API returns 500 when I upload a CSV through SSO",
        "API CSV SSO PDF",
        "Please call me NOW about the invoice",
        "ok",
    ],
)
def test_acronyms_and_one_emphasised_word_are_not_shouting(scorer, text):
    assert "all_caps" not in signal_names(scorer.run(text=text))


@pytest.mark.parametrize(
    ("text", "language", "word"),
    [
        ("This is fucking ridiculous", "en", "fucking"),
        ("What the shit is this", "en", "shit"),
        ("Que porra é essa", "pt", "porra"),
        ("Esto es una mierda", "es", "mierda"),
        ("Putain, ça marche pas", "fr", "Putain"),
        ("So eine Scheiße", "de", "Scheiße"),
    ],
)
def test_profanity_in_each_language(scorer, text, language, word):
    result = scorer.run(text=text, language=language)

    assert evidence(result, "profanity") == word


@pytest.mark.parametrize(
    "text",
    [
        "Our office is in Scunthorpe",
        "Please assess my classic account",
        "The shitake mushrooms were missing from my order",
        "Can I pass the assessment with a Dickens quote?",
    ],
)
def test_profanity_does_not_match_inside_words(scorer, text):
    assert "profanity" not in signal_names(scorer.run(text=text))


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Your site is down and we are losing customers", "en", "losing customers"),
        ("Production is broken since the update", "en", "Production is broken"),
        ("We can't invoice anyone today", "en", "can't invoice"),
        ("O sistema está fora do ar", "pt", "fora do ar"),
        ("Estamos perdiendo dinero", "es", "perdiendo dinero"),
        ("Le service est en panne", "fr", "en panne"),
        ("Wir verlieren Kunden", "de", "verlieren Kunden"),
    ],
)
def test_business_impact_in_each_language(scorer, text, language, expected):
    result = scorer.run(text=text, language=language)

    assert expected in evidence(result, "business_impact")


def test_business_impact_ignores_a_calm_question(scorer):
    result = scorer.run(text="Can I scroll down to see older invoices?")

    assert "business_impact" not in signal_names(result)


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("I want to talk to a human please", "en", "talk to a human"),
        ("Can I speak with a real person?", "en", "speak with a real person"),
        ("Quero falar com um atendente", "pt", "falar com um atendente"),
        ("Quiero hablar con una persona", "es", "hablar con una persona"),
        ("Je voudrais parler à un conseiller", "fr", "parler à un conseiller"),
        ("Ich möchte mit einem Menschen sprechen", "de", "mit einem Menschen sprechen"),
    ],
)
def test_human_request_in_each_language_wants_a_human(scorer, text, language, expected):
    result = scorer.run(text=text, language=language)

    assert result["wants_human"] is True
    assert evidence(result, "human_request") == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("I need to talk to human resources about my contract", "en"),
        ("Was it a human error on your side?", "en"),
        ("How do I add a person to my team?", "en"),
        ("Je ne veux parler à personne", "fr"),
        ("Je dois parler à mon banquier", "fr"),
    ],
)
def test_no_human_request_without_asking_for_a_person(scorer, text, language):
    result = scorer.run(text=text, language=language)

    assert result["wants_human"] is False
    assert "human_request" not in signal_names(result)


def test_repetition_points_at_the_earlier_question(scorer):
    history = ["How do I reset my password?", "I tried the link, it expired."]

    result = scorer.run(text="how do i reset my password??", history=history)

    assert evidence(result, "repetition") == "How do I reset my password?"
    assert result["score"] < scorer.run(text="how do i reset my password??")["score"]


@pytest.mark.parametrize(
    "history",
    [
        [],
        ["Where can I download my invoices?"],
        ["ok", "thanks"],
        # The order number again, because the agent asked for it: no question, no frustration.
        ["My order number is 12345 from Lisbon store"],
    ],
)
def test_no_repetition_for_a_new_question_or_an_answer(scorer, history):
    text = (
        "My order number is 12345 from Lisbon store"
        if len(history) == 1 and "order" in history[0]
        else "How do I reset my password?"
    )

    assert "repetition" not in signal_names(scorer.run(text=text, history=history))


def test_other_languages_use_the_negative_lexicon_not_vader(scorer):
    angry = scorer.run(text="Isso é um absurdo, serviço péssimo", language="pt")
    calm = scorer.run(text="Como faço para exportar as faturas?", language="pt")

    assert angry["compound"] < -0.5
    assert calm["compound"] == 0.0
    assert angry["score"] < calm["score"]


def test_penalties_are_configurable(scorer):
    lenient = SentimentScorer(penalties={"third_time": 0.0})

    text = "It is still not working"
    assert lenient.run(text=text)["score"] > scorer.run(text=text)["score"]


def write_dialogs(folder: Path) -> Path:
    dialogs = [
        {
            "conversation_id": "angry",
            "split": "test",
            "turns": [
                {"speaker": "customer", "text": "@Acme my order never arrived"},
                {"speaker": "agent", "text": "Sorry! Can you DM us the order number?"},
                {"speaker": "customer", "text": "@Acme This is the worst service ever. Horrible!"},
            ],
            "customer_negative": 1,
            "negative_customer_turns": [
                "Customer:\t@Acme This is the worst service ever. Horrible!"
            ],
        },
        {
            "conversation_id": "wants-a-person",
            "split": "test",
            "turns": [{"speaker": "customer", "text": "Can I talk to a human about my bill?"}],
            "customer_negative": 1,
            "negative_customer_turns": [],
        },
        {
            "conversation_id": "calm",
            "split": "test",
            "turns": [
                {"speaker": "customer", "text": "@Acme how do I change my delivery address?"},
                {"speaker": "agent", "text": "In Settings > Addresses."},
                {"speaker": "customer", "text": "@Acme great, thank you so much!"},
            ],
            "customer_negative": 0,
            "negative_customer_turns": [],
        },
    ]
    target = folder / "tweetsumm"
    target.mkdir()
    (target / "tweetsumm_dialogs.jsonl").write_text(
        "\n".join(json.dumps(dialog) for dialog in dialogs) + "\n", encoding="utf-8"
    )
    return folder


def test_evaluation_command_reports_escalations_on_a_sample(tmp_path):
    out = io.StringIO()

    call_command("evaluate_sentiment", "--data", str(write_dialogs(tmp_path)), "--json", stdout=out)

    figures = json.loads(out.getvalue())
    assert figures["dialogs"] == 3
    assert figures["negative_dialogs"] == 2
    assert figures["customer_turns"] == 5
    assert figures["threshold"] == SUGGESTED_ESCALATION_THRESHOLD
    assert figures["escalation_recall"] == 1.0
    assert figures["false_escalation_rate"] == 0.0
    assert figures["turn_recall"] == 1.0
    # The request for a human escalates but nobody labelled that turn negative.
    assert figures["turn_precision"] == 0.5
    assert figures["latency_ms_p95"] >= figures["latency_ms_p50"] > 0
    assert [row["threshold"] for row in figures["sweep"]] == [-0.3, -0.4, -0.5, -0.6, -0.7]


def test_evaluation_command_prints_a_readable_sweep(tmp_path):
    out = io.StringIO()

    call_command(
        "evaluate_sentiment",
        "--data",
        str(write_dialogs(tmp_path)),
        "--threshold",
        "-0.9",
        stdout=out,
    )

    text = out.getvalue()
    assert "escalation_recall: 0.5" in text  # only the request for a human escalates at -0.9
    assert "threshold  recall  false_esc" in text
    assert "     -0.7" in text


def test_evaluation_command_explains_a_missing_file(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="does not exist"):
        call_command("evaluate_sentiment", "--data", str(tmp_path), stdout=io.StringIO())
