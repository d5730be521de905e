"""Reading uploaded files, folders and zips into article drafts, including hostile uploads."""

from __future__ import annotations

import io
import struct
import time
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from knowledge.sources.drafts import ArticleDraft, SourceInputError, SourceReading
from knowledge.sources.files import read_upload, sniff_upload_kind

NOTION_ID = "0123456789abcdef0123456789abcdef"

SETUP_MD = """# Setting up

Install the widget on your site.

## Install

Paste the snippet.

### On WordPress

Use the plugin.
"""

BILLING_HTML = """<html><head><title>Billing FAQ</title></head>
<body><nav>Home | Docs</nav><h1>Billing FAQ</h1>
<h2>Invoices</h2><p>Invoices are sent <b>monthly</b>.</p></body></html>"""

WELCOME_TXT = "Welcome\n\nThanks for choosing Acme.\nWe reply within a day.\n"


def pdf_bytes(lines: list[str], title: str = "") -> bytes:
    """A minimal valid one-page PDF that shows `lines` in Helvetica, built by hand."""
    operators = ["BT /F1 14 Tf 72 720 Td 18 TL", *[f"({line}) Tj T*" for line in lines], "ET"]
    stream = "\n".join(operators).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    info = b""
    if title:
        objects.append(b"<< /Title (%s) >>" % title.encode("latin-1"))
        info = b" /Info %d 0 R" % len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\n" % (len(objects) + 1, info)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


REFUNDS_PDF = pdf_bytes(["Refund policy", "Refunds take five business days."])

HELP_CENTER: dict[str, bytes] = {
    "guides/setup.md": SETUP_MD.encode(),
    "guides/faq/billing.html": BILLING_HTML.encode(),
    "manuals/refunds.pdf": REFUNDS_PDF,
    "welcome.txt": WELCOME_TXT.encode(),
    "guides/images/logo.png": b"\x89PNG\r\n\x1a\n....",
    ".DS_Store": b"\x00\x00\x00\x01Bud1",
    ".git/notes.md": b"# Not content",
}


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def write_zip(path: Path, files: dict[str, bytes] | list[tuple[str, bytes]]) -> Path:
    items = files.items() if isinstance(files, dict) else files
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in items:
            archive.writestr(name, data)
    return path


def read_files(
    tmp_path: Path, files: dict[str, bytes], default_locale: str = "en"
) -> SourceReading:
    return read_upload(write_tree(tmp_path / "upload", files), default_locale=default_locale)


def draft_by_id(reading: SourceReading) -> dict[str, ArticleDraft]:
    return {draft.external_id: draft for draft in reading.drafts}


def reasons_by_id(reading: SourceReading) -> dict[str, str]:
    return {failure.external_id: failure.reason for failure in reading.failures}


# --- What kind of file --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "kind"),
    [
        ("Guide.MD", "markdown"),
        ("notes.markdown", "markdown"),
        ("page.htm", "html"),
        ("page.html", "html"),
        ("manual.pdf", "pdf"),
        ("readme.txt", "text"),
        ("Notion export.zip", "zip"),
        ("C:\\Users\\me\\faq.md", "markdown"),
        ("photo.png", None),
        ("archive.tar.gz", None),
        ("README", None),
    ],
)
def test_upload_kind_is_judged_by_the_file_name(filename: str, kind: str | None) -> None:
    assert sniff_upload_kind(filename) == kind


# --- Folders ------------------------------------------------------------------------------------


def test_folder_reads_every_supported_file_in_nested_folders(tmp_path: Path) -> None:
    reading = read_files(tmp_path, HELP_CENTER)

    assert [draft.external_id for draft in reading.drafts] == [
        "guides/faq/billing.html",
        "guides/setup.md",
        "manuals/refunds.pdf",
        "welcome.txt",
    ]
    assert reading.failures == []
    drafts = draft_by_id(reading)
    assert {key: draft.title for key, draft in drafts.items()} == {
        "guides/faq/billing.html": "Billing FAQ",
        "guides/setup.md": "Setting up",
        "manuals/refunds.pdf": "Refund policy",
        "welcome.txt": "Welcome",
    }


def test_markdown_keeps_its_section_headings_but_not_the_title(tmp_path: Path) -> None:
    setup = draft_by_id(read_files(tmp_path, HELP_CENTER))["guides/setup.md"]

    assert setup.content == (
        "Install the widget on your site.\n\n## Install\n\nPaste the snippet.\n\n"
        "### On WordPress\n\nUse the plugin."
    )
    assert setup.locale == "en"
    assert setup.url == ""


def test_html_becomes_markdown_without_navigation_or_repeated_title(tmp_path: Path) -> None:
    billing = draft_by_id(read_files(tmp_path, HELP_CENTER))["guides/faq/billing.html"]

    assert billing.content == "## Invoices\n\nInvoices are sent monthly."


def test_plain_text_takes_a_short_first_line_as_title(tmp_path: Path) -> None:
    long_first_line = "This first line is a whole paragraph. " * 5
    reading = read_files(
        tmp_path,
        {
            "welcome.txt": WELCOME_TXT.encode(),
            "release_notes.txt": f"{long_first_line}\n\nMore text.".encode(),
            "one-liner.txt": b"Restart the router\nthen wait a minute.",
        },
    )

    drafts = draft_by_id(reading)
    assert drafts["welcome.txt"].content == "Thanks for choosing Acme.\nWe reply within a day."
    assert drafts["release_notes.txt"].title == "Release notes"
    assert drafts["release_notes.txt"].content.startswith("This first line")
    assert drafts["one-liner.txt"].title == "One liner"
    assert drafts["one-liner.txt"].content == "Restart the router\nthen wait a minute."


def test_links_in_a_folder_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "server-secrets.txt"
    secret.write_text("Secrets\n\nDATABASE_PASSWORD=hunter2")
    upload = write_tree(tmp_path / "upload", {"faq.md": b"# FAQ\n\nAsk us."})
    (upload / "secrets.txt").symlink_to(secret)
    (upload / "elsewhere").symlink_to(tmp_path, target_is_directory=True)

    reading = read_upload(upload)

    assert [draft.external_id for draft in reading.drafts] == ["faq.md"]


def test_folder_over_the_size_or_file_limit_is_rejected(tmp_path: Path) -> None:
    upload = write_tree(
        tmp_path / "upload", {f"doc{n}.md": b"# Doc\n\n" + b"x" * 500 for n in range(3)}
    )

    with pytest.raises(SourceInputError, match="more than 1000 bytes"):
        read_upload(upload, max_total_bytes=1000)
    with pytest.raises(SourceInputError, match="more than 2 files"):
        read_upload(upload, max_files=2)


# --- Markdown details ---------------------------------------------------------------------------


def test_front_matter_gives_title_url_and_locale(tmp_path: Path) -> None:
    page = """---
title: Resetting your password
url: https://help.acme.example/reset
lang: pt-BR
tags: [account]
---
# Reset

Open *Settings* and choose **Reset password**.
"""
    draft = draft_by_id(read_files(tmp_path, {"en/reset.md": page.encode()}))["en/reset.md"]

    assert draft.title == "Resetting your password"
    assert draft.url == "https://help.acme.example/reset"
    assert draft.locale == "pt-br"
    assert draft.content == "# Reset\n\nOpen *Settings* and choose **Reset password**."
    assert "tags" not in draft.content


def test_front_matter_title_equal_to_the_heading_is_not_repeated(tmp_path: Path) -> None:
    page = "---\ntitle: Refunds\n---\n# Refunds\n\nFive days.\n"

    draft = read_files(tmp_path, {"refunds.md": page.encode()}).drafts[0]

    assert (draft.title, draft.content) == ("Refunds", "Five days.")


def test_front_matter_url_that_is_not_a_web_link_is_dropped(tmp_path: Path) -> None:
    page = "---\nurl: javascript:alert(1)\n---\n# Hi\n\nText.\n"

    assert read_files(tmp_path, {"hi.md": page.encode()}).drafts[0].url == ""


def test_broken_front_matter_fails_naming_the_line(tmp_path: Path) -> None:
    page = "---\ntitle: Refunds\nurl: [unclosed\n---\n# Refunds\n\nText.\n"

    reading = read_files(tmp_path, {"refunds.md": page.encode()})

    assert reading.drafts == []
    reason = reasons_by_id(reading)["refunds.md"]
    assert reason.startswith("front matter is not valid YAML")
    assert reason.endswith("on line 3")


def test_notion_ids_are_dropped_from_titles_but_kept_in_ids(tmp_path: Path) -> None:
    reading = read_files(
        tmp_path,
        {
            f"Help {NOTION_ID}/Billing FAQ {NOTION_ID}.md": b"Pay by card or invoice.\n",
            "getting-started.md": b"Sign up first.\n",
        },
    )

    drafts = draft_by_id(reading)
    notion = drafts[f"Help {NOTION_ID}/Billing FAQ {NOTION_ID}.md"]
    assert notion.title == "Billing FAQ"
    assert notion.content == "Pay by card or invoice."
    assert drafts["getting-started.md"].title == "Getting started"


def test_setext_headings_become_atx_headings(tmp_path: Path) -> None:
    page = "Shipping\n========\n\nWe ship worldwide.\n\nCosts\n-----\n\nFree over $50.\n"

    draft = read_files(tmp_path, {"shipping.md": page.encode()}).drafts[0]

    assert draft.title == "Shipping"
    assert draft.content == "We ship worldwide.\n\n## Costs\n\nFree over $50."


def test_hash_lines_in_code_blocks_are_not_headings(tmp_path: Path) -> None:
    page = (
        "Install with:\n\n```bash\n# install the CLI\npip install acme\n```\n\n## Next\n\nLog in.\n"
    )

    draft = read_files(tmp_path, {"cli-setup.md": page.encode()}).drafts[0]

    assert draft.title == "Cli setup"
    assert "# install the CLI" in draft.content
    assert "## Next" in draft.content


# --- Locale -------------------------------------------------------------------------------------


def test_locale_comes_from_front_matter_then_folder_then_default(tmp_path: Path) -> None:
    reading = read_files(
        tmp_path,
        {
            "pt-br/guia.md": b"# Guia\n\nOla.",
            "docs/fr/guide.md": b"# Guide\n\nBonjour.",
            "de/declared.md": b"---\nlocale: es\n---\n# Hola\n\nHola.",
            "os/linux.md": b"# Linux\n\nOn Linux.",
            "IT/laptops.md": b"# Laptops\n\nAsk IT.",
            "faq.md": b"# FAQ\n\nAnswers.",
        },
        default_locale="nl",
    )

    assert {draft.external_id: draft.locale for draft in reading.drafts} == {
        "pt-br/guia.md": "pt-br",
        "docs/fr/guide.md": "fr",
        "de/declared.md": "es",
        "os/linux.md": "nl",
        "IT/laptops.md": "nl",
        "faq.md": "nl",
    }


# --- PDF ----------------------------------------------------------------------------------------


def test_hand_built_pdf_is_a_real_pdf() -> None:
    reader = PdfReader(io.BytesIO(REFUNDS_PDF), strict=True)

    assert "Refunds take five business days." in reader.pages[0].extract_text()


def test_pdf_text_and_titles(tmp_path: Path) -> None:
    reading = read_files(
        tmp_path,
        {
            "refunds.pdf": REFUNDS_PDF,
            "titled.pdf": pdf_bytes(["Body text only."], title="Shipping times"),
        },
    )

    drafts = draft_by_id(reading)
    assert drafts["refunds.pdf"].title == "Refund policy"
    assert drafts["refunds.pdf"].content == "Refund policy\nRefunds take five business days."
    assert drafts["titled.pdf"].title == "Shipping times"
    assert drafts["titled.pdf"].content == "Body text only."


def test_corrupt_pdf_fails_alone(tmp_path: Path) -> None:
    reading = read_files(
        tmp_path,
        {
            "good.pdf": REFUNDS_PDF,
            "broken.pdf": REFUNDS_PDF[:120],
            "fake.pdf": b"<html>not a pdf</html>",
            "notes.md": b"# Notes\n\nStill read.",
        },
    )

    assert [draft.external_id for draft in reading.drafts] == ["good.pdf", "notes.md"]
    reasons = reasons_by_id(reading)
    assert set(reasons) == {"broken.pdf", "fake.pdf"}
    assert all("not a readable PDF" in reason for reason in reasons.values())


def test_password_protected_pdf_fails_and_permissions_only_pdf_is_read(tmp_path: Path) -> None:
    def encrypted(user_password: str) -> bytes:
        writer = PdfWriter()
        writer.add_page(PdfReader(io.BytesIO(REFUNDS_PDF)).pages[0])
        writer.encrypt(user_password, owner_password="owner-secret", algorithm="AES-256")
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    reading = read_files(
        tmp_path, {"locked.pdf": encrypted("secret"), "no-print.pdf": encrypted("")}
    )

    assert [draft.external_id for draft in reading.drafts] == ["no-print.pdf"]
    assert "password-protected" in reasons_by_id(reading)["locked.pdf"]


def test_pdf_without_text_fails_suggesting_ocr(tmp_path: Path) -> None:
    reading = read_files(tmp_path, {"scan.pdf": pdf_bytes([])})

    assert reading.drafts == []
    assert "OCR" in reasons_by_id(reading)["scan.pdf"]


# --- Zips ---------------------------------------------------------------------------------------


def test_zip_reads_like_the_same_folder_with_ids_from_the_zip_root(tmp_path: Path) -> None:
    from_folder = read_files(tmp_path, HELP_CENTER)
    from_zip = read_upload(write_zip(tmp_path / "help.zip", HELP_CENTER))

    assert from_zip == from_folder
    assert from_zip.drafts[0].external_id == "guides/faq/billing.html"


def test_zip_junk_images_and_nested_zips_are_not_read(tmp_path: Path) -> None:
    upload = write_zip(
        tmp_path / "export.zip",
        {
            "Export/FAQ.md": b"# FAQ\n\nAnswers.",
            "__MACOSX/Export/._FAQ.md": b"\x00\x05\x16\x07 resource fork",
            "Export/.DS_Store": b"\x00\x00\x00\x01Bud1",
            "Export/diagram.png": b"\x89PNG\r\n\x1a\n",
            "Export/Export-Part-2.zip": b"PK\x03\x04 inner zip",
        },
    )

    reading = read_upload(upload)

    assert [draft.external_id for draft in reading.drafts] == ["Export/FAQ.md"]
    assert list(reasons_by_id(reading)) == ["Export/Export-Part-2.zip"]
    assert "unzip it" in reading.failures[0].reason


def test_zip_bomb_by_declared_size_is_rejected(tmp_path: Path) -> None:
    upload = write_zip(tmp_path / "bomb.zip", {"bomb.txt": b"0" * 2 * 1024 * 1024})
    assert upload.stat().st_size < 10_000

    with pytest.raises(SourceInputError, match="more than 1 MB"):
        read_upload(upload, max_total_bytes=1024 * 1024)


def test_zip_with_too_many_entries_is_rejected(tmp_path: Path) -> None:
    upload = write_zip(tmp_path / "many.zip", {f"img{n}.png": b"x" for n in range(6)})

    with pytest.raises(SourceInputError, match="more than 5 files"):
        read_upload(upload, max_files=5)


def test_zip_directory_that_understates_a_size_cannot_smuggle_bytes(tmp_path: Path) -> None:
    upload = write_zip(
        tmp_path / "liar.zip",
        {"bomb.txt": b"0" * 2 * 1024 * 1024, "ok.md": b"# OK\n\nFine."},
    )
    understate_size_in_directory(upload, "bomb.txt", new_size=16)

    reading = read_upload(upload, max_total_bytes=1024 * 1024)

    assert [draft.external_id for draft in reading.drafts] == ["ok.md"]
    assert "damaged" in reasons_by_id(reading)["bomb.txt"]


def understate_size_in_directory(upload: Path, name: str, *, new_size: int) -> None:
    """Rewrite the uncompressed size a zip's central directory declares for `name`."""
    data = bytearray(upload.read_bytes())
    header = data.find(b"PK\x01\x02")
    while header != -1:
        name_length = struct.unpack_from("<H", data, header + 28)[0]
        if data[header + 46 : header + 46 + name_length] == name.encode():
            struct.pack_into("<I", data, header + 24, new_size)
            upload.write_bytes(bytes(data))
            return
        header = data.find(b"PK\x01\x02", header + 4)
    raise AssertionError(f"{name} not in the zip directory")


@pytest.mark.parametrize(
    "content",
    [b"this is not a zip at all", b"PK\x03\x04\x14\x00\x00\x00\x08\x00truncated", b""],
)
def test_corrupt_zip_is_rejected_as_a_whole(tmp_path: Path, content: bytes) -> None:
    upload = tmp_path / "export.zip"
    upload.write_bytes(content)

    with pytest.raises(SourceInputError, match="not a valid zip file"):
        read_upload(upload)


def test_zip_entries_with_escaping_or_absolute_paths_stay_inside(tmp_path: Path) -> None:
    upload = write_zip(
        tmp_path / "evil.zip",
        {
            "../../etc/cron.md": b"# Evil\n\nEscaped.",
            "docs/../../secret.md": b"# Evil\n\nEscaped too.",
            "/abs/notes.md": b"# Notes\n\nAbsolute.",
            "C:\\Users\\me\\faq.md": b"# FAQ\n\nWindows.",
            "../../etc/passwd": b"root:x:0:0",
        },
    )

    reading = read_upload(upload)

    assert [draft.external_id for draft in reading.drafts] == [
        "Users/me/faq.md",
        "abs/notes.md",
    ]
    reasons = reasons_by_id(reading)
    assert set(reasons) == {"../../etc/cron.md", "docs/../../secret.md"}
    assert all("outside the zip" in reason for reason in reasons.values())


def test_zip_with_two_files_at_the_same_path_keeps_the_first(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        upload = write_zip(
            tmp_path / "dupes.zip",
            [("faq.md", b"# First\n\nOne."), ("faq.md", b"# Second\n\nTwo.")],
        )

    reading = read_upload(upload)

    assert [(draft.external_id, draft.title) for draft in reading.drafts] == [("faq.md", "First")]
    assert "only that was read" in reasons_by_id(reading)["faq.md"]


def test_zip_names_in_utf8_without_the_utf8_flag_are_decoded(tmp_path: Path) -> None:
    upload = tmp_path / "mac.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        info = zipfile.ZipInfo("Préférences.md")
        archive.writestr(info, b"# Pref\n\nText.")
    raw = bytearray(upload.read_bytes())
    # Clear the "names are UTF-8" flag, as some macOS and Linux tools do, keeping the UTF-8 bytes.
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        header = raw.find(signature)
        flags = struct.unpack_from("<H", raw, header + flag_at)[0]
        struct.pack_into("<H", raw, header + flag_at, flags & ~0x800)
    upload.write_bytes(bytes(raw))

    assert [draft.external_id for draft in read_upload(upload).drafts] == ["Préférences.md"]


# --- Encodings, empty and odd files -------------------------------------------------------------


def test_text_must_be_utf8(tmp_path: Path) -> None:
    reading = read_files(
        tmp_path,
        {
            "latin1.md": "# Café\n\nCrème brûlée.".encode("latin-1"),
            "bom.md": "# Café\n\nWith a byte-order mark.".encode("utf-8-sig"),
            "notepad.txt": "Résumé\n\nSaved as Unicode by Notepad.".encode("utf-16"),
            "legacy.html": (
                '<html><head><meta charset="windows-1252"><title>Café</title></head>'
                "<body><p>Crème brûlée.</p></body></html>"
            ).encode("cp1252"),
            "binary.txt": b"\x00\x01\x02\x03 binary junk",
        },
    )

    drafts = draft_by_id(reading)
    assert drafts["bom.md"].title == "Café"
    assert drafts["notepad.txt"].title == "Résumé"
    assert drafts["legacy.html"].content == "Crème brûlée."
    reasons = reasons_by_id(reading)
    assert set(reasons) == {"latin1.md", "binary.txt"}
    assert "UTF-8" in reasons["latin1.md"]
    assert "binary" in reasons["binary.txt"]


def test_empty_files_fail(tmp_path: Path) -> None:
    reading = read_files(
        tmp_path,
        {
            "empty.md": b"",
            "blank.txt": b"  \n\n  ",
            "empty.pdf": b"",
            "title-only.md": b"# Just a title\n",
            "scripts-only.html": b"<html><body><script>track()</script></body></html>",
        },
    )

    assert reading.drafts == []
    reasons = reasons_by_id(reading)
    assert reasons["empty.md"] == reasons["blank.txt"] == reasons["empty.pdf"] == "empty file"
    assert (
        reasons["title-only.md"]
        == reasons["scripts-only.html"]
        == ("no text to index besides the title")
    )


def test_deeply_nested_html_fails_instead_of_crashing(tmp_path: Path) -> None:
    page = "<html><body>" + "<div>" * 5000 + "deep" + "</div>" * 5000 + "</body></html>"

    reading = read_files(tmp_path, {"deep.html": page.encode(), "ok.md": b"# OK\n\nFine."})

    assert [draft.external_id for draft in reading.drafts] == ["ok.md"]
    assert "nested too deeply" in reasons_by_id(reading)["deep.html"]


def test_hostile_long_lines_are_read_quickly(tmp_path: Path) -> None:
    spaces = " " * 100_000
    page = f"# Title{spaces}x\n\nBody{spaces}# closing\n"
    started = time.monotonic()

    # Only a zip can hold a name this long.
    reading = read_upload(
        write_zip(tmp_path / "long.zip", {f"name{spaces[:60_000]}x.md": page.encode()})
    )

    assert time.monotonic() - started < 5
    assert len(reading.drafts) == 1


def test_closing_hashes_are_not_part_of_the_title(tmp_path: Path) -> None:
    reading = read_files(
        tmp_path, {"a.md": b"# Billing #\n\nText.", "b.md": b"# Learn C#\n\nText."}
    )

    assert [draft.title for draft in reading.drafts] == ["Billing", "Learn C#"]


def test_very_long_titles_are_shortened(tmp_path: Path) -> None:
    page = "# " + "Very long title " * 100 + "\n\nBody."

    draft = read_files(tmp_path, {"long.md": page.encode()}).drafts[0]

    assert len(draft.title) == 255
    assert draft.title.endswith("…")


# --- Single files -------------------------------------------------------------------------------


def test_single_file_is_named_by_its_file_name(tmp_path: Path) -> None:
    upload = tmp_path / "nested" / "Returns.md"
    upload.parent.mkdir()
    upload.write_text("Send it back within 30 days.\n")

    reading = read_upload(upload, default_locale="fr")

    assert reading.drafts == [
        ArticleDraft(
            external_id="Returns.md",
            title="Returns",
            content="Send it back within 30 days.",
            locale="fr",
        )
    ]


def test_single_pdf_upload(tmp_path: Path) -> None:
    upload = tmp_path / "refunds.pdf"
    upload.write_bytes(REFUNDS_PDF)

    assert read_upload(upload).drafts[0].title == "Refund policy"


def test_single_file_over_the_limit_is_rejected(tmp_path: Path) -> None:
    upload = tmp_path / "huge.txt"
    upload.write_bytes(b"a" * 6000)

    with pytest.raises(SourceInputError, match=r"more than 4\.883 KB"):
        read_upload(upload, max_total_bytes=5000)


def test_unknown_single_file_type_is_rejected(tmp_path: Path) -> None:
    upload = tmp_path / "screenshot.PNG"
    upload.write_bytes(b"\x89PNG\r\n\x1a\n")

    with pytest.raises(SourceInputError) as error:
        read_upload(upload)

    assert str(error.value) == ("unsupported file type .png, use .md, .html, .pdf, .txt or .zip")


def test_missing_upload_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SourceInputError, match="nothing to read"):
        read_upload(tmp_path / "gone.md")
