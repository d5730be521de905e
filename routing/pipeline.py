"""What happens to one customer message under a published flow version.

language -> sentiment -> hybrid retrieval (a Haystack pipeline) -> confidence -> facts ->
RuleRouter -> built-in guards (human request, sentiment, AI turns, confidence) -> answer generator
(the offline GroundedComposer, or the LLM) -> GroundednessGuard (LLM replies) -> an answer with
sources, or the fallback and a handoff with a reason and a brief for the agent.

An LLM generator is offered the workspace's usable AI actions as tools; the action it calls is
the decision's `action_call`, a proposal that conversations.action_requests checks against the
action's policy like any request. The offline flow proposes by example phrasings instead.

Each stage is a Haystack component. They run in order here rather than as one
`haystack.Pipeline`: the flow branches after almost every stage (a rule fires, a guard hands off,
the generator fails) and those branches read plainer as Python than as router conditions. Every
stage's output and timing is recorded as the trace, so the simulator, the inbox and the API can
show why the AI said what it said.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone
from haystack import Document

from knowledge.selectors import SearchHit, knowledge_search, query_coverage
from routing.action_parameters import empty_parameter_schema
from routing.components.grounded_composer import GroundedComposer
from routing.components.groundedness_guard import GroundednessGuard
from routing.components.handoff_brief_writer import HandoffBriefWriter
from routing.components.language_detector import LanguageDetector
from routing.components.llm_answer_generator import (
    ACTION_CALL_WITHOUT_REPLY,
    ActionTool,
    LLMAnswerGenerator,
)
from routing.components.llm_brief_writer import LLMHandoffBriefWriter
from routing.components.rule_router import RuleRouter
from routing.components.sentiment_scorer import SentimentScorer
from routing.confidence import retrieval_confidence
from routing.flow_settings import FlowSettings, GeneratorSettings
from routing.models import FlowVersion
from routing.selectors import usable_actions_of_workspace

PASSAGES_FOR_ANSWER = 3


@dataclass
class MessageContext:
    """What the flow knows besides the message: the conversation so far and the customer."""

    history: list[str] = field(default_factory=list)  # earlier customer messages, oldest first
    previous_language: str | None = None
    ai_turns: int = 0  # AI replies so far that did not resolve the conversation
    customer: dict[str, Any] = field(default_factory=dict)  # name, email, plan, attributes
    ai_replies: list[str] = field(default_factory=list)  # what the AI already said, for the brief
    cited: list[dict[str, str]] = field(default_factory=list)  # articles it cited so far
    sentiment_scores: list[float] = field(default_factory=list)  # of `history`, when known


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
    brief: dict[str, Any] = field(default_factory=dict)  # handoffs: what the agent needs to know
    tags: list[str] = field(default_factory=list)  # from rules whose action is "tag"
    # The action the LLM asked for by a tool call, {"key": ..., "parameters": {...}}: only a
    # proposal, for conversations.action_requests.action_request_propose to check and request.
    action_call: dict[str, Any] | None = None


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


@functools.cache
def _brief_writer() -> HandoffBriefWriter:
    return HandoffBriefWriter()


@functools.cache
def _llm_generator(generator: GeneratorSettings, prompt: str, company: str) -> LLMAnswerGenerator:
    return LLMAnswerGenerator.from_settings(generator, prompt, company=company)


@functools.cache
def _llm_brief_writer(generator: GeneratorSettings) -> LLMHandoffBriefWriter:
    return LLMHandoffBriefWriter.from_settings(generator)


def flow_message_decide(
    *,
    version: FlowVersion,
    workspace_id: int,
    message: str,
    context: MessageContext,
    streaming_callback: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> MessageDecision:
    """Decide what to do with one customer message. `streaming_callback` receives the LLM's
    reply as it is written (an LLM flow only); the decision may still replace it with the
    fallback if the guard rejects it, so a chat shows streamed text as provisional."""
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
    confidence = trace.run(
        "confidence", lambda: _confidence_stage(workspace_id, message, language, hits)
    )
    signals = [signal["name"] for signal in sentiment["signals"]]
    facts = {
        "message": message,
        "language": language,
        "sentiment_score": sentiment["score"],
        "signals": signals,
        "wants_human": sentiment["wants_human"],
        "retrieval_confidence": confidence["score"],
        "turns": len(context.history) + 1,
        "repeated_questions": signals.count("repetition"),
        "business_hours": settings.hours.is_open(now or timezone.now()),
        "customer_plan": context.customer.get("plan"),
        "customer_attributes": context.customer.get("attributes") or {},
    }
    trace.data["facts"] = facts
    routed = trace.run(
        "rules", lambda: RuleRouter(rules=version.snapshot.get("rules", [])).run(facts=facts)
    )
    trace.data["rule"] = routed["rule"]
    queues = [queue["name"] for queue in version.snapshot.get("queues", [])]
    tags = routed["tags"]

    def handoff(
        reason: str,
        priority: str = "normal",
        queue: str = "",
        *,
        action_call: dict[str, Any] | None = None,
        passing_on: bool = False,
    ) -> MessageDecision:
        # `passing_on`: the AI did not fail to find an answer, it asked for an action and wrote
        # nothing, so the customer hears "I'm passing you to a member of our team", not "I don't
        # have that exact information".
        texts = (
            settings.fallback_messages
            if reason == "low_confidence" and not passing_on
            else settings.handoff_messages
        )
        reply = texts.get(language) or texts[settings.default_language]
        brief = trace.run(
            "brief",
            lambda: _brief_stage(settings, message, language, reason, sentiment["score"], context),
        )["brief"]
        return MessageDecision(
            outcome="handoff",
            reply=reply,
            language=language,
            reason=reason,
            priority=priority,
            queue=queue or (queues[0] if queues else ""),
            trace=trace.data,
            brief=brief,
            tags=tags,
            action_call=action_call,
        )

    action = routed["action"]
    sentiment_priority = (
        "high" if sentiment["score"] <= settings.sentiment_high_priority_at else "normal"
    )
    if action["type"] == "handoff":
        return handoff("rule", action["priority"], action["queue"])
    if action["type"] == "reply":
        return MessageDecision("reply", action["text"], language, trace=trace.data, tags=tags)
    if sentiment["wants_human"]:
        return handoff("human_request", sentiment_priority)
    if sentiment["score"] <= settings.sentiment_escalate_at:
        return handoff("sentiment", sentiment_priority)
    if context.ai_turns >= settings.max_ai_turns:
        return handoff("ai_turns")
    if confidence["score"] < settings.confidence_threshold:
        return handoff("low_confidence")

    documents = [_document(hit) for hit in hits[: PASSAGES_FOR_ANSWER * 2]]
    if settings.generator.kind == "grounded":
        composed = trace.run(
            "answer",
            lambda: _composer().run(query=message, documents=documents, language=language),
        )
    else:
        generator = _llm_generator(
            settings.generator, settings.guardrail_prompt, version.flow.workspace.name
        )
        tools = action_tools(workspace_id)
        composed = trace.run(
            "answer",
            lambda: generator.run(
                query=message,
                documents=documents,
                language=language,
                streaming_callback=streaming_callback,
                tools=tools,
            ),
        )
    # Kept whatever becomes of the text: the customer asked for the action either way, and the
    # request service, not this flow, decides whether it may run.
    action_call = composed.get("action_call")
    if not composed["answered"]:
        # A tool call without a reply: a person takes the conversation, with the request.
        only_called = composed["error"] == ACTION_CALL_WITHOUT_REPLY
        return handoff("low_confidence", action_call=action_call, passing_on=only_called)
    # The offline composer only quotes the passages, so its reply is grounded by construction;
    # a generated reply (LLM) must pass the guard.
    if settings.generator.kind != "grounded":
        checked = trace.run(
            "groundedness", lambda: _guard().run(reply=composed["reply"], documents=documents)
        )
        if not checked["grounded"]:
            return handoff("low_confidence", action_call=action_call)
    return MessageDecision(
        outcome="answer",
        reply=composed["reply"],
        language=language,
        citations=composed["citations"],
        trace=trace.data,
        tags=tags,
        action_call=action_call,
    )


def action_tools(workspace_id: int) -> list[ActionTool]:
    """The actions the LLM may ask for, as tools: one query per message. When there are none,
    the request offers no tools at all."""
    return [
        ActionTool(
            key=action.key,
            description=action.description,
            parameters=action.parameters or empty_parameter_schema(),
            example_phrasings=_phrasings(action.example_phrasings),
        )
        for action in usable_actions_of_workspace(workspace_id=workspace_id)
    ]


def _phrasings(value: Any) -> tuple[str, ...]:
    # A JSON field: a row written around routing.actions may hold anything.
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def _confidence_stage(
    workspace_id: int, message: str, language: str, hits: list[dict[str, Any]]
) -> dict[str, Any]:
    coverage = query_coverage(
        workspace_id=workspace_id,
        query=message,
        language=language,
        chunk_ids=[hit["chunk_id"] for hit in hits],
    )
    return retrieval_confidence(
        message=message, language=language, passages=hits, coverage=coverage
    ).to_json()


def _brief_stage(
    settings: FlowSettings,
    message: str,
    language: str,
    reason: str,
    score: float,
    context: MessageContext,
) -> dict[str, Any]:
    """The agent's brief: extractive offline; rewritten by the LLM when the flow has one (the
    LLM writer keeps the extractive brief if the endpoint fails)."""
    scores = list(context.sentiment_scores)
    if len(scores) != len(context.history):
        scorer = _sentiment_scorer()
        scores = [
            scorer.run(text=earlier, language=language, history=context.history[:index])["score"]
            for index, earlier in enumerate(context.history)
        ]
    messages = [*context.history, message]
    brief = _brief_writer().run(
        messages=messages,
        language=language,
        reason=reason,
        sentiment_scores=[*scores, score],
        citations=context.cited,
        ai_replies=context.ai_replies,
        customer=context.customer,
    )
    if settings.generator.kind == "grounded":
        return brief
    return _llm_brief_writer(settings.generator).run(
        brief=brief["brief"], messages=messages, language=language
    )


def _retrieval_stage(workspace_id: int, message: str, language: str) -> dict[str, Any]:
    result = knowledge_search(
        workspace_id=workspace_id, query=message, k=PASSAGES_FOR_ANSWER, language=language
    )
    return {"hits": [_hit_json(hit) for hit in result.hits]}


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    return {
        "chunk_id": hit.chunk_id,
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
