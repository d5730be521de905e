"""LLMHandoffBriefWriter against a local server that speaks the OpenAI chat-completions protocol."""

from __future__ import annotations

import copy
import json
import time

import pytest

from routing.components.llm_brief_writer import LLMHandoffBriefWriter
from tests.routing.fake_openai import unreachable_base_url

EXTRACTIVE_BRIEF = {
    "wants": "Não consigo baixar a fatura de março.",
    "suggested_reply": "Olá! Vou verificar a sua fatura de março.",
    "customer": {"name": "Maria Silva", "email": "maria@example.com"},
    "sentiment": -0.4,
}
MESSAGES = [
    "Olá, não consigo baixar a fatura de março.",
    "Já tentei duas vezes e dá erro. Preciso dela para a contabilidade hoje!",
]
WRITTEN = {
    "wants": "The customer cannot download the March invoice and needs it today for accounting.",
    "suggested_reply": "Olá Maria! Vou verificar agora o erro ao baixar a fatura de março.",
}


def writer(base_url: str, **settings) -> LLMHandoffBriefWriter:
    options = {"model": "fake-model", "timeout_seconds": 5.0}
    return LLMHandoffBriefWriter(base_url=base_url, **{**options, **settings})


def test_written_brief_replaces_what_the_customer_wants_and_the_suggested_reply(fake_openai):
    fake_openai.reply = json.dumps(WRITTEN)
    brief = copy.deepcopy(EXTRACTIVE_BRIEF)

    result = writer(fake_openai.base_url).run(brief=brief, messages=MESSAGES, language="pt")

    assert result["brief"] == {**EXTRACTIVE_BRIEF, **WRITTEN, "written_by": "llm"}
    assert brief == EXTRACTIVE_BRIEF  # the caller's brief is not changed


def test_request_asks_for_the_customers_language_and_name(fake_openai):
    fake_openai.reply = json.dumps(WRITTEN)

    writer(fake_openai.base_url).run(brief=EXTRACTIVE_BRIEF, messages=MESSAGES, language="pt")

    system, user = fake_openai.last_messages
    assert system["role"] == "system"
    assert "written in Portuguese" in system["content"]
    assert '"wants"' in system["content"]
    assert '"suggested_reply"' in system["content"]
    assert "Customer name: Maria Silva" in user["content"]
    for message in MESSAGES:
        assert f"<message>\n{message}\n</message>" in user["content"]
    # The customer's words and name are data, never part of the instructions.
    assert "Maria" not in system["content"]
    assert "fatura" not in system["content"]


def test_json_wrapped_in_a_code_fence_is_accepted(fake_openai):
    fake_openai.reply = f"Here is the brief:\n```json\n{json.dumps(WRITTEN)}\n```"

    result = writer(fake_openai.base_url).run(
        brief=EXTRACTIVE_BRIEF, messages=MESSAGES, language="pt"
    )

    assert result["brief"]["written_by"] == "llm"
    assert result["brief"]["suggested_reply"] == WRITTEN["suggested_reply"]


@pytest.mark.parametrize(
    "reply",
    [
        "Sure! The customer wants their invoice.",
        json.dumps({"wants": "The customer wants the March invoice."}),
        json.dumps({"wants": "", "suggested_reply": "Olá Maria!"}),
        json.dumps({"wants": "The March invoice.", "suggested_reply": ["Olá"]}),
        json.dumps([WRITTEN]),
        "{not json at all}",
    ],
    ids=["prose", "missing-key", "empty-string", "not-a-string", "array", "broken-json"],
)
def test_unusable_answer_keeps_the_extractive_brief(fake_openai, reply):
    fake_openai.reply = reply

    result = writer(fake_openai.base_url).run(
        brief=EXTRACTIVE_BRIEF, messages=MESSAGES, language="pt"
    )

    assert result["brief"] == {**EXTRACTIVE_BRIEF, "written_by": "extractive"}


@pytest.mark.parametrize("failure", ["http_500", "garbage", "empty"])
def test_endpoint_failure_keeps_the_extractive_brief(fake_openai, failure):
    fake_openai.failure = failure
    fake_openai.reply = json.dumps(WRITTEN)

    result = writer(fake_openai.base_url).run(
        brief=EXTRACTIVE_BRIEF, messages=MESSAGES, language="pt"
    )

    assert result["brief"] == {**EXTRACTIVE_BRIEF, "written_by": "extractive"}


def test_endpoint_down_keeps_the_extractive_brief():
    result = writer(unreachable_base_url()).run(
        brief=EXTRACTIVE_BRIEF, messages=MESSAGES, language="pt"
    )

    assert result["brief"] == {**EXTRACTIVE_BRIEF, "written_by": "extractive"}


def test_slow_endpoint_keeps_the_extractive_brief_after_the_timeout(fake_openai):
    fake_openai.failure = "slow"
    started = time.monotonic()

    result = writer(fake_openai.base_url, timeout_seconds=1.0).run(
        brief=EXTRACTIVE_BRIEF, messages=MESSAGES, language="pt"
    )

    assert time.monotonic() - started < 3
    assert result["brief"] == {**EXTRACTIVE_BRIEF, "written_by": "extractive"}


def test_unknown_name_is_said_so(fake_openai):
    fake_openai.reply = json.dumps(WRITTEN)
    anonymous = {**EXTRACTIVE_BRIEF, "customer": {}}

    writer(fake_openai.base_url).run(brief=anonymous, messages=MESSAGES, language="en")

    system, user = fake_openai.last_messages
    assert "written in English" in system["content"]
    assert "Customer name: (unknown)" in user["content"]
