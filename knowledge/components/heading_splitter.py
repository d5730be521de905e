from __future__ import annotations

import re
from dataclasses import dataclass, field

from haystack import Document, component

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
HEADING_SEPARATOR = " > "


@dataclass
class Section:
    path: list[str]
    blocks: list[str] = field(default_factory=list)

    @property
    def words(self) -> int:
        return sum(len(block.split()) for block in self.blocks)


@component
class HeadingAwareSplitter:
    """Splits articles into passages that keep their heading path ("Billing > Invoices").

    An article is cut at its headings first, so a passage never mixes two topics; a long section
    is then packed paragraph by paragraph (a paragraph longer than the limit by sentences) into
    passages of at most `max_words`. A section shorter than `min_words` is folded into the next
    one under the same parent, with its heading kept as a line of text, so that a heading with
    one sentence under it does not become a passage too small to be found.

    Each passage's meta has the article's meta plus `heading_path` and `position`.
    """

    def __init__(self, max_words: int = 180, min_words: int = 25) -> None:
        self.max_words = max_words
        self.min_words = min_words

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        passages: list[Document] = []
        for document in documents:
            sections = self._merge_small(self._sections(document.content or ""))
            position = 0
            for section in sections:
                for text in self._pack(section.blocks):
                    meta = dict(document.meta)
                    meta.update(
                        heading_path=HEADING_SEPARATOR.join(section.path), position=position
                    )
                    passages.append(Document(content=text, meta=meta))
                    position += 1
        return {"documents": passages}

    def _sections(self, markdown: str) -> list[Section]:
        sections = [Section(path=[])]
        stack: list[tuple[int, str]] = []
        paragraph: list[str] = []
        in_fence = False

        def end_paragraph() -> None:
            if paragraph:
                sections[-1].blocks.append("\n".join(paragraph).strip())
                paragraph.clear()

        for line in markdown.split("\n"):
            if FENCE.match(line):
                in_fence = not in_fence
            heading = None if in_fence else HEADING.match(line)
            if heading:
                end_paragraph()
                level, title = len(heading.group(1)), heading.group(2).strip()
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, title))
                sections.append(Section(path=[title for _, title in stack]))
            elif not line.strip() and not in_fence:
                end_paragraph()
            else:
                paragraph.append(line)
        end_paragraph()
        return [section for section in sections if section.blocks or section.path]

    def _merge_small(self, sections: list[Section]) -> list[Section]:
        merged: list[Section] = []
        for section in sections:
            previous = merged[-1] if merged else None
            if (
                previous is not None
                and previous.words < self.min_words
                and previous.words + section.words <= self.max_words
                and section.path[: len(previous.path)] == previous.path
            ):
                # A short parent intro joins its first child ("Billing: ..." then "Invoices"),
                # keeping its heading as text. Siblings are never merged: their headings differ.
                heading = [previous.path[-1] + ":"] if previous.path else []
                lead = [" ".join(heading + previous.blocks)] if previous.blocks else heading
                merged[-1] = Section(path=section.path, blocks=lead + section.blocks)
            else:
                merged.append(section)
        return [section for section in merged if section.blocks]

    def _pack(self, blocks: list[str]) -> list[str]:
        pieces: list[str] = []
        for block in blocks:
            if len(block.split()) > self.max_words:
                pieces.extend(self._split_long(block))
            else:
                pieces.append(block)
        passages: list[str] = []
        current: list[str] = []
        words = 0
        for piece in pieces:
            piece_words = len(piece.split())
            if current and words + piece_words > self.max_words:
                passages.append("\n\n".join(current))
                current, words = [], 0
            current.append(piece)
            words += piece_words
        if current:
            passages.append("\n\n".join(current))
        return passages

    def _split_long(self, block: str) -> list[str]:
        sentences = SENTENCE_END.split(block)
        parts: list[str] = []
        current: list[str] = []
        words = 0
        for sentence in sentences:
            sentence_words = sentence.split()
            if len(sentence_words) > self.max_words:
                # A "sentence" this long is a table or a dump: cut it by words.
                for start in range(0, len(sentence_words), self.max_words):
                    parts.append(" ".join(sentence_words[start : start + self.max_words]))
                continue
            if current and words + len(sentence_words) > self.max_words:
                parts.append(" ".join(current))
                current, words = [], 0
            current.append(sentence)
            words += len(sentence_words)
        if current:
            parts.append(" ".join(current))
        return parts
