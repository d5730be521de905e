"""GroundednessGuard: replies the passages back pass; invented facts and numbers do not.

Uses the real embedding model (loaded once per process). No database.
"""

from __future__ import annotations

import pytest

from routing.components.grounded_composer import GroundedComposer
from routing.components.groundedness_guard import DEFAULT_MIN_SUPPORT, GroundednessGuard
from tests.routing.test_grounded_composer import article_passages


@pytest.fixture(scope="module")
def english():
    return article_passages("en")


@pytest.fixture(scope="module")
def guard() -> GroundednessGuard:
    guard = GroundednessGuard()
    guard.warm_up()
    return guard


def test_a_verbatim_reply_is_grounded(guard, english):
    reply = (
        "Reset links expire after 30 minutes and can be used only once.\n"
        "1. Wait 5 minutes; emails are usually delivered within a minute, but some mail "
        "servers delay them.\n"
        "2. Check your spam, junk or quarantine folder."
    )

    result = guard.run(reply=reply, documents=english)

    assert result["grounded"] is True
    assert result["reply"] == reply
    assert len(result["sentences"]) == 3
    assert all(s["support"] > 0.99 and s["supported"] for s in result["sentences"])


def test_a_paraphrase_is_grounded(guard, english):
    reply = "Your account gets locked for 30 minutes after 5 failed attempts to sign in."

    result = guard.run(reply=reply, documents=english)

    assert result["grounded"] is True
    assert result["sentences"][0]["support"] >= DEFAULT_MIN_SUPPORT


@pytest.mark.parametrize(
    ("query", "language"),
    [
        ("How do I reset my password?", "en"),
        ("My account is locked", "en"),
        ("Como redefinir minha senha?", "pt"),
    ],
)
def test_the_composer_output_is_grounded(guard, english, query, language):
    reply = GroundedComposer().run(query=query, documents=english, language=language)["reply"]

    result = guard.run(reply=reply, documents=english)

    assert result["grounded"] is True
    assert result["reply"] == reply


def test_an_invented_policy_is_not_grounded(guard, english):
    reply = (
        "Reset links expire after 30 minutes and can be used only once.\n"
        "Refunds are available for 90 days on all plans."
    )

    result = guard.run(reply=reply, documents=english)

    assert result["grounded"] is False
    assert result["reply"] == ""
    invented = result["sentences"][1]
    assert invented["text"] == "Refunds are available for 90 days on all plans."
    assert invented["supported"] is False
    assert invented["support"] < DEFAULT_MIN_SUPPORT
    assert result["sentences"][0]["supported"] is True


def test_an_invented_number_is_not_grounded_however_similar(guard, english):
    result = guard.run(
        reply="The link is valid for 45 minutes and works only once.", documents=english
    )

    sentence = result["sentences"][0]
    assert sentence["support"] >= DEFAULT_MIN_SUPPORT  # the words match; the number does not
    assert sentence["supported"] is False
    assert result["grounded"] is False


def test_framing_lines_are_not_checked(guard, english):
    reply = (
        "Hi there!\n"
        'Here is what our help center says in "Reset your password":\n'
        "Here are the steps:\n"
        "2. Check your spam, junk or quarantine folder.\n"
        "\n"
        "Source: Reset your password (https://help.quillboard.example/en/reset-your-password)\n"
        "I hope this helps!"
    )

    result = guard.run(reply=reply, documents=english)

    assert [s["text"] for s in result["sentences"]] == [
        "Check your spam, junk or quarantine folder."
    ]
    assert result["grounded"] is True


def test_custom_ignore_prefixes(english):
    guard = GroundednessGuard(ignore_prefixes=["Our advice:"])

    result = guard.run(
        reply="Our advice: be patient.\nCheck your spam, junk or quarantine folder.",
        documents=english,
    )

    assert result["grounded"] is True
    assert len(result["sentences"]) == 1


def test_without_documents_or_facts_nothing_is_grounded(guard, english):
    assert guard.run(reply="Check your spam folder.", documents=[])["grounded"] is False
    empty = guard.run(reply="", documents=english)
    assert empty == {"grounded": False, "sentences": [], "reply": ""}
