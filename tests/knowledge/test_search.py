"""Hybrid retrieval: the right article first, in the query's language, within one workspace."""

from __future__ import annotations

import pytest

from console.services import workspace_create
from knowledge.components.keyword_retriever import ChunkKeywordRetriever
from knowledge.models import SourceKind
from knowledge.selectors import knowledge_search
from knowledge.services import source_create, source_sync

pytestmark = pytest.mark.django_db


def test_question_finds_the_article_and_section_first(synced_source, workspace):
    result = knowledge_search(
        workspace_id=workspace.pk, query="where can I download my invoice pdf?", k=3
    )

    first = result.hits[0]
    assert (first.external_id, first.heading_path) == ("en/billing.md", "Invoices")
    assert set(first.found_by) == {"embedding", "keyword"}
    assert first.found_by["embedding"]["rank"] == 1
    assert first.similarity is not None and first.similarity > 0.4
    assert result.language == "en"


def test_portuguese_question_is_answered_from_the_portuguese_article(synced_source, workspace):
    result = knowledge_search(workspace_id=workspace.pk, query="Esqueci minha senha, o que faço?")

    assert result.language == "pt"
    assert result.articles[0] == "pt/reset-password.md"


def test_keyword_search_stems_with_the_query_languages_configuration(synced_source, workspace):
    retriever = ChunkKeywordRetriever()

    # "senhas" (plural) only matches "senha" through the Portuguese stemmer.
    portuguese = retriever.run(query="senhas", workspace_id=workspace.pk, language="pt")
    simple = retriever.run(query="senhas", workspace_id=workspace.pk, language=None)

    assert [d.meta["external_id"] for d in portuguese["documents"]] == ["pt/reset-password.md"]
    assert simple["documents"] == []


def test_titles_weigh_more_than_body_text(synced_source, workspace):
    documents = ChunkKeywordRetriever().run(
        query="billing", workspace_id=workspace.pk, language="en"
    )["documents"]

    assert documents and documents[0].meta["external_id"] == "en/billing.md"


def test_only_language_restricts_search_to_that_language(synced_source, workspace):
    result = knowledge_search(
        workspace_id=workspace.pk, query="reset password link", language="pt", only_language=True
    )

    assert {hit.locale for hit in result.hits} == {"pt"}


def test_search_never_returns_another_workspaces_chunks(synced_source, help_center):
    other = workspace_create(name="Other", slug="other")
    (help_center / "en" / "billing.md").write_text("# Secret pricing\n\nOur secret discount.\n")
    source_sync(
        source=source_create(
            workspace=other,
            kind=SourceKind.FOLDER,
            name="Help",
            settings_={"path": str(help_center)},
        )
    )

    mine = knowledge_search(workspace_id=synced_source.workspace_id, query="secret discount", k=10)
    theirs = knowledge_search(workspace_id=other.pk, query="secret discount", k=10)

    assert all("secret" not in hit.text.lower() for hit in mine.hits)
    assert theirs.hits[0].title == "Secret pricing"
    assert {hit.article_id for hit in theirs.hits}.isdisjoint({hit.article_id for hit in mine.hits})


def test_at_most_two_passages_per_article(synced_source, workspace):
    result = knowledge_search(workspace_id=workspace.pk, query="billing invoices refunds", k=5)

    per_article: dict[str, int] = {}
    for hit in result.hits:
        per_article[hit.external_id] = per_article.get(hit.external_id, 0) + 1
    assert max(per_article.values()) <= 2
    assert len(result.articles) == len(set(result.articles))


def test_blank_query_finds_nothing(synced_source, workspace):
    assert knowledge_search(workspace_id=workspace.pk, query="   ").hits == []
