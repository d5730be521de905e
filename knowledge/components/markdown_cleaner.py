from __future__ import annotations

import re

from haystack import Document, component

ANCHOR_TAG = re.compile(r"<a\s+name=[^>]*>\s*</a>", re.IGNORECASE)
INLINE_HTML = re.compile(r"</?(?:a|span|b|i|em|strong|code|sup|sub|br)\b[^>]*>", re.IGNORECASE)
IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^)]*\))*\)")
BACKSLASH_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
SPACES = re.compile(r"[ \t\u00a0]+")
BLANK_LINES = re.compile(r"\n{3,}")


@component
class MarkdownCleaner:
    """Reduces Markdown to readable text while keeping its block structure.

    Passages are shown to customers and embedded; link targets, HTML anchors and backslash
    escapes (`Amazon RDS\\.`) are noise for both. Headings, list markers and paragraphs stay, since
    the splitter needs them.
    """

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        return {
            "documents": [
                Document(id=doc.id, content=clean_markdown(doc.content or ""), meta=dict(doc.meta))
                for doc in documents
            ]
        }


def clean_markdown(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = ANCHOR_TAG.sub("", text)
    text = INLINE_HTML.sub("", text)
    text = IMAGE.sub(lambda match: f"[image: {match.group(1)}]" if match.group(1) else "", text)
    text = LINK.sub(r"\1", text)
    text = BACKSLASH_ESCAPE.sub(r"\1", text)
    lines = [SPACES.sub(" ", line).rstrip() for line in text.split("\n")]
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
