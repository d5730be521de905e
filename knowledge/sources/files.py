"""Uploaded files: a Markdown, HTML, PDF or text file, a folder of them, or a zip of them (a Notion
or Confluence export is such a zip).

Every upload may be hostile. A zip is read in memory and never extracted, so its entry names are
only labels; its sizes are checked against the limits before and while reading, because the zip
directory can lie. One unreadable file becomes a `ReadFailure` and the rest are still read; only an
upload that is unusable as a whole raises `SourceInputError`.

Text must be UTF-8 (a UTF-8 or UTF-16 byte-order mark is honoured, and HTML may declare its own
charset). We do not guess Latin-1: a wrong guess would index mojibake and quote it to customers,
whereas a failure tells the person exactly how to fix the file.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from bs4.dammit import EncodingDetector
from django.conf.locale import LANG_INFO
from pypdf import PageObject, PasswordType, PdfReader

from knowledge.sources.drafts import ArticleDraft, ReadFailure, SourceInputError, SourceReading
from knowledge.sources.html import html_title, html_to_markdown

logger = logging.getLogger(__name__)

UploadKind = Literal["markdown", "html", "pdf", "text", "zip"]

KINDS_BY_SUFFIX: dict[str, UploadKind] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".txt": "text",
    ".zip": "zip",
}
JUNK_SEGMENTS = {"__MACOSX"}
MAX_TITLE_LENGTH = 255
MAX_TEXT_TITLE_LINE = 120
READ_CHUNK_BYTES = 64 * 1024

# Languages Django can translate into. "io" and "os" are left out because folders named after
# input/output or operating systems are far more common than docs written in Ido or Ossetian.
KNOWN_LANGUAGES = frozenset(code for code in LANG_INFO if len(code) == 2) - {"io", "os"}
LOCALE_CODE = re.compile(r"^([a-z]{2})(?:[-_]([a-z]{2}))?$", re.IGNORECASE)
LOWERCASE_LOCALE_FOLDER = re.compile(r"^[a-z]{2}(?:-[a-zA-Z]{2})?$")
NOTION_ID = re.compile(r"[0-9a-fA-F]{32}")

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# Patterns stay linear: any of them may meet a hostile 64 KB line.
ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.*)$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
NOT_SETEXT_TEXT = re.compile(r"^(?: {4}|\t| {0,3}(?:[#>|]|[-*+][ \t]|\d+[.)][ \t]))")
FRONT_MATTER_END = {"---", "..."}
TITLE_LINE = re.compile(r"([^\n]*)\n[ \t]*\n(.*)", re.DOTALL)

UNSUPPORTED_TYPE = "unsupported file type {suffix}, use .md, .html, .pdf, .txt or .zip"
NOT_UTF8 = "not UTF-8 text: save the file with UTF-8 encoding and upload it again"
NESTED_ZIP = "a zip inside the upload is not read: unzip it and upload its contents"


@dataclass(frozen=True)
class _UploadedFile:
    external_id: str
    kind: UploadKind
    data: bytes


class _ByteBudget:
    """How many bytes an upload may unpack; going past it rejects the whole upload."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spent = 0

    @property
    def left(self) -> int:
        return self.limit - self.spent

    def check_declared(self, total: int) -> None:
        if total > self.limit:
            raise SourceInputError(_too_big_message(self.limit))

    def spend(self, count: int) -> None:
        self.spent += count
        self.check_declared(self.spent)


def sniff_upload_kind(filename: str) -> UploadKind | None:
    """What a file is, judged by its name: "markdown", "html", "pdf", "text", "zip" or None."""
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    return KINDS_BY_SUFFIX.get(suffix)


def read_upload(
    path: Path,
    *,
    default_locale: str = "en",
    max_total_bytes: int = 200 * 1024 * 1024,
    max_files: int = 10_000,
) -> SourceReading:
    """Read an uploaded file, folder or zip into article drafts, sorted by external id (the path
    relative to the folder or zip root; a single file's name)."""
    budget = _ByteBudget(max_total_bytes)
    if path.is_dir():
        files = _files_in_folder(path, budget, max_files)
    elif path.is_file():
        kind = sniff_upload_kind(path.name)
        if kind is None:
            raise SourceInputError(UNSUPPORTED_TYPE.format(suffix=path.suffix.lower() or "(none)"))
        if kind == "zip":
            files = _files_in_zip(path, budget, max_files)
        else:
            files = _single_file(path, kind, budget)
    else:
        raise SourceInputError(f"nothing to read: {path.name} is not a file or a folder")
    reading = SourceReading()
    for item in files:
        result = item if isinstance(item, ReadFailure) else _read_document(item, default_locale)
        if isinstance(result, ArticleDraft):
            reading.drafts.append(result)
        else:
            reading.failures.append(result)
    reading.drafts.sort(key=lambda draft: draft.external_id)
    reading.failures.sort(key=lambda failure: failure.external_id)
    return reading


# --- Finding the files ---------------------------------------------------------------------------


def _single_file(path: Path, kind: UploadKind, budget: _ByteBudget) -> Iterator[_UploadedFile]:
    budget.check_declared(path.stat().st_size)
    yield _UploadedFile(path.name, kind, _read_within(path, budget))


def _files_in_folder(
    root: Path, budget: _ByteBudget, max_files: int
) -> Iterator[_UploadedFile | ReadFailure]:
    found = _supported_files_in_folder(root, max_files)
    budget.check_declared(sum(file.stat().st_size for _, kind, file in found if kind != "zip"))
    for external_id, kind, file in found:
        if kind == "zip":
            yield ReadFailure(external_id, NESTED_ZIP)
        else:
            yield _UploadedFile(external_id, kind, _read_within(file, budget))


def _supported_files_in_folder(root: Path, max_files: int) -> list[tuple[str, UploadKind, Path]]:
    found: list[tuple[str, UploadKind, Path]] = []
    seen = 0
    for folder, subfolders, names in os.walk(root):
        # Links could point anywhere on the server, so they are not followed.
        subfolders[:] = [
            name
            for name in subfolders
            if not _is_hidden(name) and not os.path.islink(os.path.join(folder, name))
        ]
        for name in names:
            file = Path(folder, name)
            if _is_hidden(name) or file.is_symlink():
                continue
            seen += 1
            if seen > max_files:
                raise SourceInputError(_too_many_message(max_files))
            kind = sniff_upload_kind(name)
            if kind is not None:
                found.append((file.relative_to(root).as_posix(), kind, file))
    return found


def _read_within(path: Path, budget: _ByteBudget) -> bytes:
    # Read at most one byte past the budget: a file may have grown since it was measured.
    with path.open("rb") as stream:
        data = stream.read(budget.left + 1)
    budget.spend(len(data))
    return data


def _files_in_zip(
    path: Path, budget: _ByteBudget, max_files: int
) -> Iterator[_UploadedFile | ReadFailure]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise SourceInputError(
            f"{path.name} is not a valid zip file ({error}); create the zip again and upload it"
        ) from error
    with archive:
        entries = archive.infolist()
        if len(entries) > max_files:
            raise SourceInputError(_too_many_message(max_files))
        named = [(entry, _zip_entry_path(entry)) for entry in entries if not entry.is_dir()]
        wanted = [(entry, name) for entry, name in named if name is not None]
        # Entries we skip are never decompressed, so only the ones we read count.
        budget.check_declared(sum(entry.file_size for entry, name in wanted if _reads(name)))
        seen: set[str] = set()
        for entry, name in wanted:
            kind = sniff_upload_kind(name)
            if kind is None:
                continue
            if ".." in name.split("/"):
                yield ReadFailure(name, "its path leads outside the zip (it has '..'); not read")
            elif kind == "zip":
                yield ReadFailure(name, NESTED_ZIP)
            elif name in seen:
                yield ReadFailure(name, "another file in the zip has this path; only that was read")
            else:
                seen.add(name)
                yield _read_zip_entry(archive, entry, name, kind, budget)


def _read_zip_entry(
    archive: zipfile.ZipFile,
    entry: zipfile.ZipInfo,
    name: str,
    kind: UploadKind,
    budget: _ByteBudget,
) -> _UploadedFile | ReadFailure:
    if entry.flag_bits & 0x1:
        return ReadFailure(name, "encrypted in the zip: create the zip without a password")
    chunks: list[bytes] = []
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(READ_CHUNK_BYTES):
                # The zip directory may understate sizes, so the budget is spent as we unpack.
                budget.spend(len(chunk))
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError):
        return ReadFailure(name, "could not be unpacked: the zip is damaged; create it again")
    return _UploadedFile(name, kind, b"".join(chunks))


def _zip_entry_path(entry: zipfile.ZipInfo) -> str | None:
    """The entry's path relative to the zip root, or None for what is not content (macOS resource
    forks, hidden files). Absolute paths are made relative; '..' is kept so it can be reported."""
    name = entry.filename
    if not entry.flag_bits & 0x800:
        # Zips made on macOS and Linux often hold UTF-8 names without saying so.
        name = _utf8_name(name)
    segments = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if segments and re.fullmatch(r"[A-Za-z]:", segments[0]):
        segments = segments[1:]
    if not segments or any(_is_hidden(part) for part in segments if part != ".."):
        return None
    return "/".join(segments)


def _utf8_name(name: str) -> str:
    try:
        return name.encode("cp437").decode("utf-8")
    except UnicodeError:
        return name


def _reads(name: str) -> bool:
    return sniff_upload_kind(name) not in (None, "zip") and ".." not in name.split("/")


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name in JUNK_SEGMENTS


def _too_big_message(limit: int) -> str:
    return f"the upload holds more than {_human_size(limit)}; split it into smaller uploads"


def _too_many_message(limit: int) -> str:
    return f"the upload holds more than {limit} files; split it into smaller uploads"


def _human_size(count: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if count >= size:
            return f"{count / size:.4g} {unit}"
    return f"{count} bytes"


# --- Reading one document ------------------------------------------------------------------------


def _read_document(file: _UploadedFile, default_locale: str) -> ArticleDraft | ReadFailure:
    if not file.data.strip():
        return ReadFailure(file.external_id, "empty file")
    try:
        if file.kind == "markdown":
            return _read_markdown(file, default_locale)
        if file.kind == "html":
            return _read_html(file, default_locale)
        if file.kind == "pdf":
            return _read_pdf(file, default_locale)
        return _read_text(file, default_locale)
    except RecursionError:
        return ReadFailure(file.external_id, "nested too deeply to read; simplify the document")
    except Exception:
        # One odd file must not cost the person the rest of the upload.
        logger.exception("Unexpected error reading uploaded file %s", file.external_id)
        return ReadFailure(file.external_id, "could not be read (unexpected error); check the file")


def _read_markdown(file: _UploadedFile, default_locale: str) -> ArticleDraft | ReadFailure:
    text = _decode(file.data)
    if text is None:
        return ReadFailure(file.external_id, NOT_UTF8)
    if "\x00" in text:
        return _binary_failure(file)
    try:
        meta, body = _split_front_matter(text)
    except yaml.YAMLError as error:
        problem = str(getattr(error, "problem", "") or "invalid YAML")
        mark = getattr(error, "problem_mark", None)
        # The YAML starts on the file's second line, after the opening '---'.
        where = f" on line {mark.line + 2}" if mark is not None else ""
        return ReadFailure(file.external_id, f"front matter is not valid YAML: {problem}{where}")
    lines = _setext_to_atx(body.split("\n"))
    meta_title = _meta_string(meta, "title")
    heading_index, heading = _first_h1(lines)
    title = meta_title or heading
    if heading_index is not None and heading.casefold() == title.casefold():
        del lines[heading_index]
    url = _meta_string(meta, "url")
    return _draft(
        file,
        title=title,
        content="\n".join(lines),
        locale=_locale(file.external_id, meta, default_locale),
        url=url if url.startswith(("https://", "http://")) else "",
    )


def _read_html(file: _UploadedFile, default_locale: str) -> ArticleDraft | ReadFailure:
    html = _decode(file.data)
    if html is None:
        html = _decode_declared_html(file.data)
    if html is None:
        return ReadFailure(file.external_id, NOT_UTF8)
    if "\x00" in html:
        return _binary_failure(file)
    title = html_title(html)
    content = html_to_markdown(html, drop_title=title)
    return _draft(
        file, title=title, content=content, locale=_locale(file.external_id, {}, default_locale)
    )


def _read_pdf(file: _UploadedFile, default_locale: str) -> ArticleDraft | ReadFailure:
    try:
        reader = PdfReader(io.BytesIO(file.data))
        if reader.is_encrypted and not _unlocks_without_password(reader):
            return ReadFailure(
                file.external_id,
                "the PDF is password-protected: save it without a password and upload it again",
            )
        pages = [_page_text(page) for page in reader.pages]
        metadata_title = _pdf_metadata_title(reader)
    except Exception as error:
        logger.info("Unreadable PDF %s: %s", file.external_id, error)
        return ReadFailure(
            file.external_id, "not a readable PDF (damaged or not really a PDF); export it again"
        )
    content = "\n\n".join(page for page in pages if page)
    if not content:
        return ReadFailure(
            file.external_id,
            "the PDF has no text (a scanned document?); run it through OCR or upload the text",
        )
    first_line = content.split("\n", 1)[0].strip()
    title = metadata_title or (first_line if len(first_line) <= MAX_TEXT_TITLE_LINE else "")
    return _draft(
        file, title=title, content=content, locale=_locale(file.external_id, {}, default_locale)
    )


def _read_text(file: _UploadedFile, default_locale: str) -> ArticleDraft | ReadFailure:
    text = _decode(file.data)
    if text is None:
        return ReadFailure(file.external_id, NOT_UTF8)
    if "\x00" in text:
        return _binary_failure(file)
    title, text = _title_line(text.strip("\n"))
    return _draft(
        file, title=title, content=text, locale=_locale(file.external_id, {}, default_locale)
    )


def _title_line(text: str) -> tuple[str, str]:
    """A short first line set apart by a blank line is the title; the rest is the content."""
    match = TITLE_LINE.match(text)
    if match and 0 < len(match.group(1).strip()) <= MAX_TEXT_TITLE_LINE:
        return match.group(1).strip(), match.group(2)
    return "", text


def _draft(
    file: _UploadedFile, *, title: str, content: str, locale: str, url: str = ""
) -> ArticleDraft | ReadFailure:
    content = content.strip()
    if not content:
        return ReadFailure(file.external_id, "no text to index besides the title")
    title = " ".join(title.split()) or _title_from_filename(file.external_id)
    if len(title) > MAX_TITLE_LENGTH:
        title = title[: MAX_TITLE_LENGTH - 1].rstrip() + "…"
    return ArticleDraft(
        external_id=file.external_id, title=title, content=content, locale=locale, url=url
    )


def _binary_failure(file: _UploadedFile) -> ReadFailure:
    return ReadFailure(file.external_id, "looks like a binary file, not text; check its type")


# --- Text helpers --------------------------------------------------------------------------------


def _decode(data: bytes) -> str | None:
    encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else None
    try:
        text = data.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_declared_html(data: bytes) -> str | None:
    """HTML saved in a legacy charset usually says so in a <meta> tag, which we trust."""
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    if not declared:
        return None
    try:
        return data.decode(declared).replace("\r\n", "\n").replace("\r", "\n")
    except (LookupError, UnicodeDecodeError):
        return None


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return {}, text
    end = next(
        (index for index, line in enumerate(lines[1:], 1) if line.rstrip() in FRONT_MATTER_END),
        None,
    )
    if end is None:
        return {}, text
    meta = yaml.safe_load("\n".join(lines[1:end]))
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        # Two horizontal rules around a sentence, not front matter.
        return {}, text
    return meta, "\n".join(lines[end + 1 :])


def _meta_string(meta: dict[str, Any], key: str) -> str:
    value = meta.get(key)
    return value.strip() if isinstance(value, str) else ""


def _prose_lines(lines: list[str]) -> list[bool]:
    """For each line, whether it is prose rather than inside a fenced code block."""
    prose: list[bool] = []
    fence = ""
    for line in lines:
        match = FENCE.match(line)
        if fence:
            prose.append(False)
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = ""
        elif match:
            prose.append(False)
            fence = match.group(1)
        else:
            prose.append(True)
    return prose


def _setext_to_atx(lines: list[str]) -> list[str]:
    """'Title' underlined with === or --- becomes '# Title' / '## Title', the form the splitter
    reads heading paths from."""
    prose = _prose_lines(lines)
    converted: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        underline = SETEXT_UNDERLINE.match(lines[index + 1]) if index + 1 < len(lines) else None
        if (
            underline
            and prose[index]
            and prose[index + 1]
            and line.strip()
            and not NOT_SETEXT_TEXT.match(line)
            and (index == 0 or not lines[index - 1].strip())
        ):
            level = 1 if underline.group(1)[0] == "=" else 2
            converted.append("#" * level + " " + line.strip())
            index += 2
            continue
        converted.append(line)
        index += 1
    return converted


def _first_h1(lines: list[str]) -> tuple[int | None, str]:
    for index, (line, is_prose) in enumerate(zip(lines, _prose_lines(lines), strict=True)):
        match = ATX_H1.match(line) if is_prose else None
        if match:
            heading = _without_closing_hashes(match.group(1).strip())
            if heading:
                return index, heading
    return None, ""


def _without_closing_hashes(heading: str) -> str:
    # "# Title #" is the heading "Title"; "# C#" is the heading "C#".
    unclosed = heading.rstrip("#")
    if unclosed != heading and (not unclosed or unclosed[-1] in " \t"):
        return unclosed.rstrip()
    return heading


def _page_text(page: PageObject) -> str:
    try:
        text = str(page.extract_text() or "")
    except Exception as error:
        # A damaged page should not hide the readable ones.
        logger.info("Skipping unreadable PDF page: %s", error)
        return ""
    lines = (line.rstrip() for line in text.replace("\x00", "").split("\n"))
    return "\n".join(lines).strip()


def _unlocks_without_password(reader: PdfReader) -> bool:
    # Many PDFs are encrypted only to restrict printing or copying, with an empty user password.
    try:
        return reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception:
        return False


def _pdf_metadata_title(reader: PdfReader) -> str:
    try:
        title = reader.metadata.title if reader.metadata is not None else None
    except Exception:
        return ""
    return title.strip() if isinstance(title, str) else ""


def _title_from_filename(external_id: str) -> str:
    stem = PurePosixPath(external_id).stem
    name, _, last_word = stem.rpartition(" ")
    if name.strip() and NOTION_ID.fullmatch(last_word):
        stem = name.strip()
    if " " not in stem:
        stem = re.sub(r"[-_]+", " ", stem).strip()
    return (stem[:1].upper() + stem[1:]) if stem else external_id


def _locale(external_id: str, meta: dict[str, Any], default_locale: str) -> str:
    for key in ("locale", "lang"):
        declared = _as_locale(_meta_string(meta, key))
        if declared:
            return declared
    for folder in PurePosixPath(external_id).parts[:-1]:
        if LOWERCASE_LOCALE_FOLDER.match(folder):
            from_folder = _as_locale(folder)
            if from_folder:
                return from_folder
    return default_locale


def _as_locale(value: str) -> str:
    match = LOCALE_CODE.match(value)
    if match is None or match.group(1).lower() not in KNOWN_LANGUAGES:
        return ""
    return value.lower().replace("_", "-")
