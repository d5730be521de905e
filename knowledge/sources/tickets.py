"""Past resolved support tickets (CSV or JSON) as articles: the problem, then how it was solved.

Tickets are full of customers' personal data, and what we index is shown to other customers, so
every text is scrubbed of emails, phone numbers and card numbers before it becomes an article.
Unresolved tickets teach nothing and are left out.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from knowledge.sources.drafts import ArticleDraft, ReadFailure, SourceInputError, SourceReading

REQUIRED_COLUMNS = ("subject", "messages", "resolution")
DEFAULT_LOCALE = "en"
LOCALE_PATTERN = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
MAX_TITLE = 300

CUSTOMER_ROLES = {"customer", "end-user", "end_user", "enduser", "requester", "user", "client"}
AGENT_ROLES = {"agent", "support", "admin", "staff", "assignee", "operator", "support agent"}
BOT_ROLES = {"bot", "ai", "assistant", "system", "automation"}


# -- personal data -------------------------------------------------------------------------------

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# 13-19 digits, optionally grouped by single spaces or dashes; Luhn decides whether it is a card.
CARD_CANDIDATE = re.compile(r"(?<![\w+.\-/#])\d(?:[ -]?\d){12,18}(?![\w.\-/]\d|\w)")
# Numbers that look like phone numbers but are not: protected before phones are looked for.
# Quantifiers are bounded so a long run of digits cannot make matching quadratic.
CURRENCY_CODES = r"USD|EUR|GBP|CHF|CAD|AUD|JPY|INR|BRL|SEK|NOK|DKK|PLN|MXN"
NOT_PHONE_PATTERNS = (
    # ISO dates and date-times: 2024-05-01, 2024-05-01T10:30:00
    r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?",
    # day/month/year dates that stand alone: 01.05.2024, 05/01/2024 (not 06-12-34-56-78)
    r"(?<![\d.\-/])\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})(?!\d|[./-]\d)",
    # times: 10:30, 14:05:59
    r"\d{1,2}:\d{2}(?::\d{2})?",
    # amounts with a currency before or after: $1,299.99, EUR 1 234, 1.234,56 €
    rf"(?:[$€£¥₹]|\b(?:{CURRENCY_CODES})\b)[ \u00a0]?\d[\d.,\u00a0 ]{{0,20}}\d",
    rf"\d[\d.,\u00a0 ]{{0,20}}[ \u00a0]?(?:[$€£¥₹]|(?:{CURRENCY_CODES}|kr)\b)",
    # numbers that say what they are: order #48213, invoice no. 2024-000123, build 20240501
    r"(?i:#|\bno\.|\b(?:order|invoice|ticket|case|ref|reference|tracking|build|version|sku|id)\b"
    r"(?:[ ]?(?:no\.|number|nr\.|id|#))?[ ]?[:#]?)[ ]?[\w-]{0,30}\d[\w./-]{0,30}",
    # IPv4 addresses
    r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])",
)
NOT_PHONE = re.compile("|".join(f"(?:{pattern})" for pattern in NOT_PHONE_PATTERNS))
# Digits with the separators people write phone numbers with; _is_phone_number decides. Each
# separator is one character or a parenthesised area code, so matching never backtracks widely.
PHONE_SEPARATOR = r"(?:[ .\-/]|[ .\-/]?\(\d{1,5}\)[ .\-/]?)"
PHONE_CANDIDATE = re.compile(
    rf"(?<![\w.\-/+#])(?:(?:\+|\b00)[ ]?)?(?:\(\d{{1,5}}\)[ .\-/]?)?\d(?:{PHONE_SEPARATOR}?\d)+"
    r"(?!\w|[.\-/]\d)"
)
NANP_SHAPE = re.compile(r"^(?:1[ .\-])?\d{3}([ .\-])\d{3}\1\d{4}$")
PLACEHOLDER = "\x00{}\x00"


def scrub_personal_data(text: str) -> str:
    """Replace emails with [email], phone numbers with [phone] and card numbers with [card].

    Phones are matched in international (+44 20 7946 0958, 0044 ...) and local formats
    ((555) 123-4567, 555-123-4567, 020 7946 0958, 06 12 34 56 78); versions, dates, times,
    amounts, IP addresses and labelled numbers (order #48213) are left as they are.
    """
    text = EMAIL.sub("[email]", text)
    text = CARD_CANDIDATE.sub(_card_or_original, text)
    protected: list[str] = []

    def protect(match: re.Match[str]) -> str:
        protected.append(match.group(0))
        return PLACEHOLDER.format(len(protected) - 1)

    text = NOT_PHONE.sub(protect, text.replace("\x00", ""))
    text = PHONE_CANDIDATE.sub(_phone_or_original, text)
    return re.sub("\x00(\\d+)\x00", lambda match: protected[int(match.group(1))], text)


def _card_or_original(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card]" if _passes_luhn(digits) else match.group(0)


def _passes_luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _phone_or_original(match: re.Match[str]) -> str:
    return "[phone]" if _is_phone_number(match.group(0)) else match.group(0)


def _is_phone_number(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if candidate.startswith("+"):
        return 8 <= len(digits) <= 15
    if candidate.startswith("00"):
        return 9 <= len(digits) <= 17
    if not 7 <= len(digits) <= 15:
        return False
    if candidate.startswith("("):
        return True
    if NANP_SHAPE.match(candidate):
        return True
    # Without a country code, a national number starts with its trunk prefix 0; other digit
    # groups (2019 2020 2021, 10 12 14 16) are too often not phones at all.
    return (
        digits.startswith("0") and 9 <= len(digits) <= 12 and _dot_groups_look_like_phone(candidate)
    )


def _dot_groups_look_like_phone(candidate: str) -> bool:
    """Dotted numbers are phones only in the French style (06.12.34.56.78), not versions."""
    if "." not in candidate:
        return True
    groups = candidate.split(".")
    return len(groups) >= 4 and all(group.isdigit() and len(group) <= 4 for group in groups)


# -- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Message:
    author: str  # "Customer", "Agent", ... or "" when the export does not say
    body: str


@dataclass(frozen=True)
class _Ticket:
    label: str  # how a person finds it again: "Row 4" or "Ticket 3"
    ticket_id: str
    subject: str
    messages: list[_Message]
    resolution: str
    locale: str


class _BadTicketError(Exception):
    """Why one ticket cannot be read, worded for the person who exported it."""


def read_tickets(data: bytes, filename: str) -> SourceReading:
    """Read resolved tickets from CSV or JSON into one draft per ticket with a resolution.

    CSV needs the columns subject, messages and resolution (id and locale are optional); JSON is
    a list of ticket objects or an object with a "tickets" list. All text is scrubbed with
    scrub_personal_data. A file that cannot be read raises SourceInputError; a ticket that
    cannot be read becomes a failure naming its row.
    """
    text = _decode(data)
    rows = _json_tickets(text) if _is_json(text, filename) else _csv_tickets(text)
    reading = SourceReading()
    seen_ids: set[str] = set()
    for ticket_or_failure in rows:
        if isinstance(ticket_or_failure, ReadFailure):
            reading.failures.append(ticket_or_failure)
            continue
        draft = _draft(ticket_or_failure)
        if draft is None:
            continue
        if draft.external_id in seen_ids:
            reason = (
                f"{ticket_or_failure.label} repeats the id {ticket_or_failure.ticket_id}; "
                "only the first ticket with that id was read."
            )
            reading.failures.append(ReadFailure(draft.external_id, reason))
            continue
        seen_ids.add(draft.external_id)
        reading.drafts.append(draft)
    return reading


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheet programs still save CSV in the Windows code page.
        return data.decode("cp1252", errors="replace")


def _is_json(text: str, filename: str) -> bool:
    name = filename.lower()
    if name.endswith(".json"):
        return True
    if name.endswith((".csv", ".tsv", ".txt")):
        return False
    return text.lstrip().startswith(("[", "{"))


def _draft(ticket: _Ticket) -> ArticleDraft | None:
    if not ticket.resolution:
        return None
    problem = "\n".join(_message_line(message) for message in ticket.messages) or ticket.subject
    return ArticleDraft(
        external_id=f"ticket-{ticket.ticket_id}",
        title=ticket.subject,
        content=f"## Problem\n{problem}\n\n## Resolution\n{ticket.resolution}",
        locale=ticket.locale,
    )


def _message_line(message: _Message) -> str:
    return f"{message.author}: {message.body}" if message.author else message.body


# -- CSV -----------------------------------------------------------------------------------------


def _csv_tickets(text: str) -> Iterator[_Ticket | ReadFailure]:
    reader = csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text))
    header = _csv_header(reader)
    columns = {name: index for index, name in enumerate(header) if name}
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise SourceInputError(
            f"The tickets CSV is missing the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}. It needs subject, messages and resolution "
            "(id and locale are optional)."
        )
    row_number = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise SourceInputError(
                f"The tickets CSV cannot be read after row {row_number}: {error}."
            ) from error
        row_number += 1
        if not any(cell.strip() for cell in row):
            continue
        yield _csv_ticket(row, columns, row_number)


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    if first_line.count(";") > first_line.count(",") and first_line.count(";") >= 2:
        return _Semicolons
    if first_line.count("\t") >= 2:
        return csv.excel_tab
    return csv.excel


class _Semicolons(csv.excel):
    """What spreadsheets write where the comma is the decimal separator."""

    delimiter = ";"


def _csv_header(reader: Any) -> list[str]:
    try:
        header = next(reader)
    except StopIteration as error:
        raise SourceInputError("The tickets CSV is empty.") from error
    except csv.Error as error:
        raise SourceInputError(f"The tickets CSV header cannot be read: {error}.") from error
    return [name.strip().lower() for name in header]


def _csv_ticket(row: list[str], columns: dict[str, int], row_number: int) -> _Ticket | ReadFailure:
    label = f"Row {row_number}"

    def cell(name: str) -> str:
        index = columns.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    ticket_id = cell("id") or str(row_number)
    try:
        return _ticket(
            label=label,
            ticket_id=ticket_id,
            subject=cell("subject"),
            messages=_csv_messages(cell("messages")),
            resolution=cell("resolution"),
            locale=cell("locale"),
        )
    except _BadTicketError as error:
        return ReadFailure(f"ticket-{_safe_id(ticket_id)}", f"{label} {error}; it was skipped.")


def _csv_messages(cell: str) -> list[Any]:
    """A JSON array when the cell holds one, else one message per line."""
    if cell.startswith("["):
        try:
            parsed = json.loads(cell)
        except (json.JSONDecodeError, RecursionError):
            parsed = None
        if isinstance(parsed, list):
            return parsed
    return [line for line in cell.splitlines() if line.strip()]


# -- JSON ----------------------------------------------------------------------------------------


def _json_tickets(text: str) -> Iterator[_Ticket | ReadFailure]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SourceInputError(
            f"The tickets file is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg})."
        ) from error
    except RecursionError as error:
        raise SourceInputError("The tickets file is nested too deeply to read.") from error
    if isinstance(document, dict) and isinstance(document.get("tickets"), list):
        entries = document["tickets"]
    elif isinstance(document, list):
        entries = document
    else:
        raise SourceInputError(
            'The tickets JSON should be a list of tickets or an object with a "tickets" list.'
        )
    for position, entry in enumerate(entries, start=1):
        yield _json_ticket(entry, position)


def _json_ticket(entry: Any, position: int) -> _Ticket | ReadFailure:
    label = f"Ticket {position}"
    if not isinstance(entry, dict):
        return ReadFailure(f"ticket-{position}", f"{label} is not an object; it was skipped.")
    raw_id = entry.get("id")
    ticket_id = _scalar(raw_id) or str(position)
    if raw_id is not None and not _scalar(raw_id):
        return ReadFailure(f"ticket-{position}", f"{label} has an id that is not text or a number.")
    messages = entry.get("messages", [])
    try:
        if isinstance(messages, str):
            messages = [line for line in messages.splitlines() if line.strip()]
        if not isinstance(messages, list):
            raise _BadTicketError("has messages that are neither a list nor text")
        return _ticket(
            label=f"{label} (id {ticket_id})" if _scalar(raw_id) else label,
            ticket_id=ticket_id,
            subject=_field_text(entry, "subject"),
            messages=messages,
            resolution=_field_text(entry, "resolution"),
            locale=_field_text(entry, "locale"),
        )
    except _BadTicketError as error:
        return ReadFailure(f"ticket-{_safe_id(ticket_id)}", f"{label} {error}; it was skipped.")


def _field_text(entry: dict[str, Any], name: str) -> str:
    value = entry.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _BadTicketError(f'has a "{name}" that is not text')
    return value.strip()


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | str):
        return str(value).strip()
    return ""


# -- both formats --------------------------------------------------------------------------------


def _ticket(
    *,
    label: str,
    ticket_id: str,
    subject: str,
    messages: list[Any],
    resolution: str,
    locale: str,
) -> _Ticket:
    subject = _one_line(scrub_personal_data(subject))
    if not subject and resolution.strip():
        raise _BadTicketError("has no subject")
    return _Ticket(
        label=label,
        ticket_id=_safe_id(ticket_id),
        subject=subject[:MAX_TITLE],
        messages=[_message(raw, index) for index, raw in enumerate(messages, start=1)],
        resolution=scrub_personal_data(resolution).strip(),
        locale=_locale(locale),
    )


def _message(raw: Any, index: int) -> _Message:
    if isinstance(raw, str):
        return _Message("", scrub_personal_data(raw.strip()))
    if not isinstance(raw, dict):
        raise _BadTicketError(f"has message {index} that is neither text nor an object")
    body = next((raw[key] for key in ("body", "text") if isinstance(raw.get(key), str)), None)
    if body is None:
        raise _BadTicketError(f"has message {index} whose body is not text")
    return _Message(_author_label(raw), scrub_personal_data(body.strip()))


def _author_label(message: dict[str, Any]) -> str:
    """Who spoke, by role. A person's name or address is not kept: it would end up in answers
    to other customers."""
    for key in ("role", "author", "from"):
        value = message.get(key)
        if isinstance(value, dict):  # {"author": {"name": ..., "role": "agent"}}
            value = value.get("role")
        label = _role_label(value)
        if label:
            return label
    return ""


def _role_label(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    role = value.strip().lower()
    if role in CUSTOMER_ROLES:
        return "Customer"
    if role in AGENT_ROLES:
        return "Agent"
    if role in BOT_ROLES:
        return "Bot"
    return ""


def _locale(value: str) -> str:
    locale = value.strip().lower().replace("_", "-")
    return locale if LOCALE_PATTERN.match(locale) else DEFAULT_LOCALE


def _safe_id(ticket_id: str) -> str:
    return re.sub(r"\s+", "-", ticket_id.strip())[:100]


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
