"""HTML to the Markdown-like text the splitter reads: headings, paragraphs, lists, tables, code.

Help-center bodies and web pages are HTML. We keep only their structure (headings become `#`
lines so passages know their heading path; list items stay one per line) and drop navigation,
scripts and styling.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, NavigableString, Tag

DROPPED_TAGS = ("script", "style", "noscript", "template", "svg", "nav", "footer", "header", "form")
HEADING_LEVELS = {f"h{level}": level for level in range(1, 7)}
BLOCK_TAGS = {"p", "div", "section", "article", "main", "blockquote", "figure", "dd", "dt"}


def html_title(html: str) -> str:
    """The page's <title>, else its first <h1>, else ''."""
    soup = BeautifulSoup(html, "html.parser")
    for candidate in (soup.title, soup.find("h1")):
        if candidate is not None and candidate.get_text(strip=True):
            return _squash(candidate.get_text(" ", strip=True))
    return ""


def html_to_markdown(html: str, *, drop_title: str = "") -> str:
    """Convert HTML to Markdown-like text. A first heading equal to `drop_title` is left out,
    since the title is stored on the article already."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(DROPPED_TAGS):
        tag.decompose()
    root = soup.body or soup
    lines: list[str] = []
    _walk(root, lines)
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if drop_title:
        first, _, rest = text.partition("\n")
        if first.lstrip("# ").strip().casefold() == drop_title.strip().casefold():
            text = rest.strip()
    return text


def _walk(node: Tag, lines: list[str]) -> None:
    for child in node.children:
        if isinstance(child, NavigableString):
            text = _squash(str(child))
            if text:
                _append_inline(lines, text)
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name in HEADING_LEVELS:
            _block(lines, "#" * HEADING_LEVELS[name] + " " + _squash(child.get_text(" ")))
        elif name in ("ul", "ol"):
            lines.append("")
            for number, item in enumerate(child.find_all("li", recursive=False), start=1):
                marker = f"{number}." if name == "ol" else "-"
                lines.append(f"{marker} {_squash(item.get_text(' '))}")
            lines.append("")
        elif name == "pre":
            _block(lines, "```\n" + child.get_text().strip("\n") + "\n```")
        elif name == "table":
            _block(lines, _table(child))
        elif name == "br":
            lines.append("")
        elif name == "img":
            alt = _squash(str(child.get("alt") or ""))
            if alt:
                _append_inline(lines, f"[image: {alt}]")
        elif name in BLOCK_TAGS:
            lines.append("")
            _walk(child, lines)
            lines.append("")
        else:
            _walk(child, lines)


def _table(table: Tag) -> str:
    rows = []
    for row in table.find_all("tr"):
        cells = [_squash(cell.get_text(" ")) for cell in row.find_all(("th", "td"))]
        if any(cells):
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _block(lines: list[str], text: str) -> None:
    lines.extend(["", text, ""])


def _append_inline(lines: list[str], text: str) -> None:
    # Inline text continues the paragraph: "<p>Go to <b>Settings</b>.</p>" stays one line.
    if lines and lines[-1] and not lines[-1].startswith(("#", "|", "```", "- ")):
        joiner = "" if text[:1] in ".,;:!?)" else " "
        lines[-1] = lines[-1] + joiner + text
    else:
        lines.append(text)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
