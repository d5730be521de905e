"""The console's sections. Sections not built yet render a page that says so plainly."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    summary: str
    built: bool = False

    @property
    def url_name(self) -> str:
        return "console:" + self.key.replace("-", "_")


SECTIONS = (
    Section(
        "flows",
        "Flows",
        "Support flows: the draft's guardrail prompt, confidence and sentiment thresholds, "
        "languages and routing rules, the published versions, and a simulator that runs a "
        "message through the draft.",
        built=True,
    ),
    Section(
        "rules",
        "Rules",
        "Ordered routing rules and queues that decide when a human takes over.",
        built=True,
    ),
    Section(
        "knowledge",
        "Knowledge",
        "Knowledge sources (help center, wikis, API docs, past "
        "tickets), ingestion progress, articles and a search playground.",
        built=True,
    ),
    Section(
        "actions",
        "Actions",
        "AI actions with their risk, policy and approvers, and the audit log of every request.",
        built=True,
    ),
    Section(
        "inbox",
        "Inbox",
        "The live inbox of escalated conversations with the AI's handoff brief.",
        built=True,
    ),
    Section(
        "chat-widget",
        "Chat widget",
        "The hosted chat page, the snippet that puts the chat on your site, and the sites "
        "allowed to show it.",
        built=True,
    ),
    Section("analytics", "Analytics", "Deflection, handoff reasons, CSAT and response times."),
    Section("team", "Team", "Members of this workspace with their roles and tiers.", built=True),
    Section("api-keys", "API keys", "Keys for REST clients of this workspace.", built=True),
    Section(
        "audit",
        "Audit log",
        "Who changed which setting, rule, queue, action or role, when, and the old and new value.",
        built=True,
    ),
)

NOT_BUILT_KEYS = tuple(section.key for section in SECTIONS if not section.built)


def section_by_key(key: str) -> Section:
    for section in SECTIONS:
        if section.key == key:
            return section
    raise Http404("No such section.")
