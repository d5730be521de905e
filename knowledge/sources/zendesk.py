"""Zendesk Help Center exports: the JSON the articles API returns, one page or many.

People export in different ways (a saved API page, a script that concatenates pages, a bare list
of articles), so we accept every shape that plainly holds articles and name the entries we cannot
read instead of rejecting the whole export.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from knowledge.sources.drafts import ArticleDraft, ReadFailure, SourceInputError, SourceReading
from knowledge.sources.html import html_to_markdown

DEFAULT_LOCALE = "en"


def read_zendesk_export(data: bytes) -> SourceReading:
    """Read a Zendesk Help Center articles export into drafts, one per published article.

    Draft articles are skipped; an entry without an id or title, or with a body that is not
    HTML text, becomes a failure naming it. Unreadable JSON, or JSON holding no articles, raises
    SourceInputError.
    """
    documents = _json_documents(_decode(data))
    entries = list(_article_entries(documents))
    if not any(isinstance(entry, dict) for entry in entries):
        raise SourceInputError(
            "This file holds no Zendesk articles. Expected the JSON of the Help Center articles "
            'API: an object with an "articles" list, or a list of such objects.'
        )
    reading = SourceReading()
    seen_ids: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        _read_entry(entry, position, reading, seen_ids)
    return reading


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceInputError(
            "This Zendesk export is not UTF-8 text; export the articles as JSON again."
        ) from error


def _json_documents(text: str) -> list[Any]:
    """Every JSON value in the text: one normally, several when pages were saved back to back."""
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = _skip_whitespace(text, 0)
    while position < len(text):
        try:
            document, position = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError) as error:
            raise SourceInputError(_invalid_json_message(error)) from error
        documents.append(document)
        position = _skip_whitespace(text, position)
    if not documents:
        raise SourceInputError("This Zendesk export is empty.")
    return documents


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _invalid_json_message(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return (
            f"This Zendesk export is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg})."
        )
    return "This Zendesk export is nested too deeply to be a Help Center articles export."


def _article_entries(documents: list[Any]) -> Iterator[Any]:
    """The article entries in any of the accepted shapes, in export order."""
    for document in documents:
        if isinstance(document, dict):
            yield from _page_entries(document)
        elif isinstance(document, list):
            for item in document:
                if _looks_like_page(item):
                    yield from _page_entries(item)
                else:
                    yield item


def _page_entries(page: dict[str, Any]) -> list[Any]:
    if isinstance(page.get("articles"), list):
        return list(page["articles"])
    if isinstance(page.get("article"), dict):
        return [page["article"]]
    return []


def _looks_like_page(value: Any) -> bool:
    return isinstance(value, dict) and ("articles" in value or "article" in value)


def _read_entry(entry: Any, position: int, reading: SourceReading, seen_ids: set[str]) -> None:
    label = _entry_label(entry, position)
    failure_id = _entry_id(entry) or f"entry {position}"
    if not isinstance(entry, dict):
        reason = f"{label} is not an article object; it was skipped."
        reading.failures.append(ReadFailure(failure_id, reason))
        return
    if entry.get("draft") is True:
        return
    problem = _entry_problem(entry)
    if problem:
        reading.failures.append(ReadFailure(failure_id, f"{label} {problem}; it was skipped."))
        return
    external_id = _entry_id(entry)
    if external_id in seen_ids:
        # Overlapping API pages repeat articles; the first copy is the one we keep.
        return
    seen_ids.add(external_id)
    title = entry["title"].strip()
    content = html_to_markdown(entry["body"], drop_title=title)
    if not content:
        reading.failures.append(ReadFailure(external_id, f"{label} has no text; it was skipped."))
        return
    reading.drafts.append(
        ArticleDraft(
            external_id=external_id,
            title=title,
            content=content,
            locale=_locale(entry.get("locale")),
            url=entry["html_url"] if isinstance(entry.get("html_url"), str) else "",
        )
    )


def _entry_id(entry: Any) -> str:
    article_id = entry.get("id") if isinstance(entry, dict) else None
    if isinstance(article_id, bool) or not isinstance(article_id, int | str):
        return ""
    return str(article_id).strip()


def _entry_problem(entry: dict[str, Any]) -> str:
    if not _entry_id(entry):
        return "has no id"
    title = entry.get("title")
    if not isinstance(title, str) or not title.strip():
        return "has no title"
    if not isinstance(entry.get("body"), str):
        return "has no HTML body"
    return ""


def _entry_label(entry: Any, position: int) -> str:
    """How a person finds the entry again: its id and title when it has them."""
    article_id = _entry_id(entry)
    title = entry.get("title") if isinstance(entry, dict) else None
    title_part = f' ("{title.strip()[:80]}")' if isinstance(title, str) and title.strip() else ""
    if article_id:
        return f"Article {article_id}{title_part}"
    return f"Entry {position}{title_part}"


def _locale(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip().lower().replace("_", "-")
    return DEFAULT_LOCALE
