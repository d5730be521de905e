"""Reading Zendesk Help Center article exports into drafts, in every shape people save them."""

from __future__ import annotations

import json

import pytest

from knowledge.sources.drafts import SourceInputError
from knowledge.sources.zendesk import read_zendesk_export

RESET_PASSWORD = {
    "id": 360001,
    "title": "Reset your password",
    "body": (
        "<h1>Reset your password</h1><p>Click <b>Forgot password</b> on the sign-in page.</p>"
        "<h2>The email does not arrive</h2><ul><li>Check your spam folder.</li>"
        "<li>Ask your admin to allow our domain.</li></ul>"
    ),
    "html_url": "https://help.acme.example/hc/en-us/articles/360001-Reset-your-password",
    "locale": "en-us",
    "draft": False,
}
SENHA = {
    "id": 360002,
    "title": "Redefinir sua senha",
    "body": "<p>Clique em <i>Esqueci minha senha</i>.</p>",
    "html_url": "https://help.acme.example/hc/pt-br/articles/360002",
    "locale": "pt-BR",
}
UNPUBLISHED = {
    "id": 360003,
    "title": "Coming soon: SSO",
    "body": "<p>Not ready yet.</p>",
    "html_url": "https://help.acme.example/hc/en-us/articles/360003",
    "locale": "en-us",
    "draft": True,
}


def export(*articles: object, **page: object) -> bytes:
    return json.dumps({"articles": list(articles), "next_page": None, **page}).encode()


def test_an_api_page_becomes_one_draft_per_published_article():
    reading = read_zendesk_export(export(RESET_PASSWORD, SENHA, UNPUBLISHED))

    assert reading.failures == []
    assert [draft.external_id for draft in reading.drafts] == ["360001", "360002"]
    reset, senha = reading.drafts
    assert reset.title == "Reset your password"
    assert reset.url == RESET_PASSWORD["html_url"]
    assert reset.locale == "en-us"
    assert senha.locale == "pt-br"
    assert senha.content == "Clique em Esqueci minha senha."


def test_article_body_keeps_its_structure_without_repeating_the_title():
    reset = read_zendesk_export(export(RESET_PASSWORD)).drafts[0]

    assert not reset.content.startswith("# Reset your password")
    assert reset.content.startswith("Click Forgot password on the sign-in page.")
    assert "## The email does not arrive" in reset.content
    assert "- Check your spam folder.\n- Ask your admin to allow our domain." in reset.content


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(json.dumps([RESET_PASSWORD, SENHA]).encode(), id="bare list"),
        pytest.param(
            json.dumps([{"articles": [RESET_PASSWORD]}, {"articles": [SENHA]}]).encode(),
            id="list of pages",
        ),
        pytest.param(export(RESET_PASSWORD) + b"\n" + export(SENHA), id="pages back to back"),
    ],
)
def test_exports_of_several_pages_are_read_whole(data):
    reading = read_zendesk_export(data)

    assert [draft.title for draft in reading.drafts] == [
        "Reset your password",
        "Redefinir sua senha",
    ]


def test_an_article_repeated_by_overlapping_pages_is_read_once():
    data = json.dumps([{"articles": [RESET_PASSWORD, SENHA]}, {"articles": [SENHA]}]).encode()

    reading = read_zendesk_export(data)

    assert [draft.external_id for draft in reading.drafts] == ["360001", "360002"]
    assert reading.failures == []


def test_malformed_entries_are_named_and_the_rest_is_still_read():
    no_title = {"id": 77, "title": "", "body": "<p>text</p>", "locale": "en-us"}
    no_id = {"title": "Orphan", "body": "<p>text</p>"}
    body_not_text = {"id": 78, "title": "Broken body", "body": {"html": "<p>x</p>"}}

    reading = read_zendesk_export(export(no_title, RESET_PASSWORD, no_id, body_not_text, "junk"))

    assert [draft.external_id for draft in reading.drafts] == ["360001"]
    reasons = {failure.external_id: failure.reason for failure in reading.failures}
    assert reasons["77"] == "Article 77 has no title; it was skipped."
    assert reasons["entry 3"] == 'Entry 3 ("Orphan") has no id; it was skipped.'
    assert reasons["78"] == 'Article 78 ("Broken body") has no HTML body; it was skipped.'
    assert "Entry 5 is not an article object" in reasons["entry 5"]


def test_an_article_without_a_url_or_locale_gets_defaults():
    bare = {"id": "abc", "title": "Plans", "body": "<p>Three plans.</p>"}

    draft = read_zendesk_export(export(bare)).drafts[0]

    assert (draft.external_id, draft.url, draft.locale) == ("abc", "", "en")


def test_invalid_json_is_refused_with_where_it_breaks():
    with pytest.raises(SourceInputError, match=r"not valid JSON \(line 1, column 15"):
        read_zendesk_export(b'{"articles": [oops]}')


@pytest.mark.parametrize(
    "data",
    [b'{"users": [{"id": 1}]}', b"[]", b"{}", b'"articles"', b"   "],
)
def test_json_without_articles_is_refused(data):
    with pytest.raises(SourceInputError, match=r"no Zendesk articles|is empty"):
        read_zendesk_export(data)


def test_deeply_nested_json_is_refused_not_crashed():
    with pytest.raises(SourceInputError):
        read_zendesk_export(b"[" * 200_000 + b"]" * 200_000)
