"""The guardrail prompt's variables, and a preview of what the LLM generator would be sent.

An admin writes the guardrail once per flow; a few placeholders in it are filled per message by
LLMAnswerGenerator (`{company}` when it is built, `{language}` in its system prompt). Any other
`{name}` would reach the model as it is, so the console refuses it and names it.

The preview runs the flow's own language detection and retrieval on an example message and
builds the messages with the generator's own `messages()`: what it shows is what an endpoint
would receive, byte for byte. Nothing is sent anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from console.models import Workspace
from routing.components.llm_answer_generator import LLMAnswerGenerator, haystack_tools
from routing.flow_settings import (  # noqa: F401  (the console imports them from here too)
    GUARDRAIL_VARIABLES,
    FlowSettings,
    guardrail_unknown_variables,
)

# The pipeline's own steps, so the preview cannot drift from what a customer message goes through.
from routing.pipeline import (
    PASSAGES_FOR_ANSWER,
    _document,
    _language_detector,
    _retrieval_stage,
    action_tools,
)


@dataclass(frozen=True)
class PromptMessage:
    role: str  # "system" or "user"
    text: str


@dataclass(frozen=True)
class PromptPreview:
    language: str
    messages: list[PromptMessage]
    passages: list[dict[str, Any]] = field(default_factory=list)  # the retrieved hits
    tools: list[str] = field(default_factory=list)  # the actions offered as tools


def guardrail_prompt_preview(
    *,
    workspace: Workspace,
    settings: FlowSettings,
    guardrail_prompt: str,
    message: str,
    language: str = "",
) -> PromptPreview:
    """The messages the LLM generator of a flow with `settings` and `guardrail_prompt` would
    send for `message` (in `language`, or the language the flow detects in it)."""
    if not language:
        detector = _language_detector(settings.languages, settings.default_language)
        language = detector.run(text=message, previous_language=None)["language"]
    hits = _retrieval_stage(workspace.pk, message, language)["hits"]
    documents = [_document(hit) for hit in hits[: PASSAGES_FOR_ANSWER * 2]]
    generator = LLMAnswerGenerator.from_settings(
        settings.generator, guardrail_prompt, company=workspace.name
    )
    tools = haystack_tools(action_tools(workspace.pk))
    messages = generator.messages(message, documents, language, with_tools=bool(tools))
    return PromptPreview(
        language=language,
        messages=[PromptMessage(str(chat.role.value), chat.text or "") for chat in messages],
        passages=hits[: len(documents)],
        tools=[tool.name for tool in tools],
    )
