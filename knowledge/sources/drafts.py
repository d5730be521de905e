"""What every source reader produces: article drafts, and failures for what could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ArticleDraft:
    """One article as read from a source, before it is stored and indexed.

    `content` is Markdown-like text: headings as `#`, `##`, ... lines, so the splitter can keep
    each passage's heading path ("Billing > Invoices"). It does not repeat the title as a heading.
    """

    external_id: str  # stable within the source: a file's relative path, a Zendesk id, ...
    title: str
    content: str
    locale: str = "en"  # ISO 639-1 code (or a code like "pt-br"; the first two letters count)
    url: str = ""


@dataclass(frozen=True)
class ReadFailure:
    """Something in a source that could not be read; the rest of the source still is."""

    external_id: str
    reason: str  # for a person: what is wrong and, where possible, what to do


@dataclass
class SourceReading:
    """The result of reading a whole source."""

    drafts: list[ArticleDraft] = field(default_factory=list)
    failures: list[ReadFailure] = field(default_factory=list)


class SourceInputError(ValueError):
    """The input as a whole is unusable (unknown type, over the size limit, not the expected
    format). The message is shown to the person who gave it."""
