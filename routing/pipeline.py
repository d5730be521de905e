"""What happens to one customer message under a published flow version.

language -> sentiment -> hybrid retrieval -> facts -> RuleRouter -> built-in guards
(human request, sentiment, AI turns, confidence) -> GroundedComposer -> GroundednessGuard ->
an answer with sources, or the fallback and a handoff with a reason.

Each stage is a Haystack component; this module runs them in order and records every stage's
output and timing as the trace, so the simulator, the inbox and the API can show why.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from haystack import Document

from knowledge.selectors import SearchHit, knowledge_search
from routing.components.grounded_composer import GroundedComposer
from routing.components.groundedness_guard import GroundednessGuard
from routing.components.language_detector import LanguageDetector
from routing.components.rule_router import RuleRouter
from routing.components.sentiment_scorer import SentimentScorer
from routing.flow_settings import FlowSettings
from routing.models import FlowVersion

PASSAGES_FOR_ANSWER = 3


@dataclass
class MessageContext:
    """What the flow knows besides the message: the conversation so far and the customer."""

    history: list[str] = field(default_factory=list)  # earlier customer messages, oldest first
    previous_language: str | None = None
    ai_turns: int = 0  # AI replies so far that did not resolve the conversation
    customer: dict[str, Any] = field(default_factory=dict)  # name, plan, attributes


@dataclass
class MessageDecision:
    outcome: str  # "answer", "handoff" or "reply"
    reply: str
    language: str
    reason: str = ""  # handoffs: low_confidence, sentiment, human_request, rule, ai_turns
    priority: str = ""  # handoffs: normal, high, urgent
    queue: str = ""
    citations: list[dict[str, str]] = field(default_factory=list)
    trace: dict[str, Any] = field(default_factory=dict)


class _Trace:
    def __init__(self, version: FlowVersion) -> None:
        self.data: dict[str, Any] = {"flow_version": version.number, "stages": {}, "timings_ms": {}}

    def run(self, stage: str, step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        started = time.perf_counter()
        output = step()
        self.data["timings_ms"][stage] = round((time.perf_counter() - started) * 1000, 2)
        self.data["stages"][stage] = output
        return output


@functools.cache
def _language_detector(languages: tuple[str, ...], default: str) -> LanguageDetector:
    detector = LanguageDetector(languages=languages, default_language=default)
    detector.warm_up()
    return detector


@functools.cache
def _sentiment_scorer() -> SentimentScorer:
    scorer = SentimentScorer()
    scorer.warm_up()
    return scorer


@functools.cache
def _composer() -> GroundedComposer:
    return GroundedComposer()


@functools.cache
def _guard() -> GroundednessGuard:
    guard = GroundednessGuard()
    guard.warm_up()
    return guard


def flow_message_decide(
    *, version: FlowVersion, workspace_id: int, message: str, context: MessageContext
) -> MessageDecision:
    settings = FlowSettings.from_json(version.snapshot["settings"])
    trace = _Trace(version)
    detected = trace.run(
        "language",
        lambda: _language_detector(settings.languages, settings.default_language).run(
            text=message, previous_language=context.previous_language
        ),
    )
    language = detected["language"]
    sentiment = trace.run(
        "sentiment",
        lambda: _sentiment_scorer().run(text=message, language=language, history=context.history),
    )
    hits = trace.run("retrieval", lambda: _retrieval_stage(workspace_id, message, language))["hits"]
    confidence = max((hit["similarity"] or 0.0 for hit in hits), default=0.0)
    signals = [signal["name"] for signal in sentiment["signals"]]
    facts = {
        "message": message,
        "language": language,
        "sentiment_score": sentiment["score"],
        "signals": signals,
        "wants_human": sentiment["wants_human"],
        "retrieval_confidence": round(confidence, 4),
        "turns": len(context.history) + 1,
        "repeated_questions": signals.count("repetition"),
        "business_hours": None,  # no business hours are set for the workspace yet
        "customer_plan": context.customer.get("plan"),
        "customer_attributes": context.customer.get("attributes") or {},
    }
    trace.data["facts"] = facts
    routed = trace.run(
        "rules", lambda: RuleRouter(rules=version.snapshot.get("rules", [])).run(facts=facts)
    )
    queues = [queue["name"] for queue in version.snapshot.get("queues", [])]

    def handoff(reason: str, priority: str = "normal", queue: str = "") -> MessageDecision:
        texts = (
            settings.fallback_messages if reason == "low_confidence" else settings.handoff_messages
        )
        return MessageDecision(
            outcome="handoff",
            reply=texts.get(language) or texts[settings.default_language],
            language=language,
            reason=reason,
            priority=priority,
            queue=queue or (queues[0] if queues else ""),
            trace=trace.data,
        )

    action = routed["action"]
    sentiment_priority = (
        "high" if sentiment["score"] <= settings.sentiment_high_priority_at else "normal"
    )
    if action["type"] == "handoff":
        return handoff("rule", action["priority"], action["queue"])
    if action["type"] == "reply":
        return MessageDecision("reply", action["text"], language, trace=trace.data)
    if sentiment["wants_human"]:
        return handoff("human_request", sentiment_priority)
    if sentiment["score"] <= settings.sentiment_escalate_at:
        return handoff("sentiment", sentiment_priority)
    if context.ai_turns >= settings.max_ai_turns:
        return handoff("ai_turns")
    if confidence < settings.confidence_threshold:
        return handoff("low_confidence")

    documents = [_document(hit) for hit in hits[: PASSAGES_FOR_ANSWER * 2]]
    composed = trace.run(
        "answer",
        lambda: _composer().run(query=message, documents=documents, language=language),
    )
    if not composed["answered"]:
        return handoff("low_confidence")
    # The offline composer only quotes the passages, so its reply is grounded by construction;
    # a generated reply (LLM) must pass the guard.
    if settings.generator.kind != "grounded":
        checked = trace.run(
            "groundedness", lambda: _guard().run(reply=composed["reply"], documents=documents)
        )
        if not checked["grounded"]:
            return handoff("low_confidence")
    return MessageDecision(
        outcome="answer",
        reply=composed["reply"],
        language=language,
        citations=composed["citations"],
        trace=trace.data,
    )


def _retrieval_stage(workspace_id: int, message: str, language: str) -> dict[str, Any]:
    result = knowledge_search(
        workspace_id=workspace_id, query=message, k=PASSAGES_FOR_ANSWER, language=language
    )
    return {"hits": [_hit_json(hit) for hit in result.hits]}


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    return {
        "external_id": hit.external_id,
        "title": hit.title,
        "url": hit.url,
        "heading_path": hit.heading_path,
        "locale": hit.locale,
        "text": hit.text,
        "score": hit.score,
        "similarity": hit.similarity,
        "found_by": hit.found_by,
    }


def _document(hit: dict[str, Any]) -> Document:
    meta = {key: value for key, value in hit.items() if key != "text"}
    return Document(content=hit["text"], meta=meta)
