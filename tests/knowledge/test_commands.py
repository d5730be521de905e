"""`manage.py ingest` and `manage.py search`, as a person runs them."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from console.models import Workspace
from knowledge.models import Chunk

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_ingest_creates_the_workspace_and_a_second_run_changes_nothing(help_center):
    first = run("ingest", str(help_center), "--workspace", "new-co")
    chunk_ids = set(Chunk.objects.values_list("pk", flat=True))
    second = run("ingest", str(help_center), "--workspace", "new-co")

    assert Workspace.objects.filter(slug="new-co").exists()
    assert "Created workspace new-co." in first
    assert "3 articles (3 new, 0 changed, 0 removed, 0 unchanged)" in first
    assert "3 articles (0 new, 0 changed, 0 removed, 3 unchanged)" in second
    assert set(Chunk.objects.values_list("pk", flat=True)) == chunk_ids


def test_ingest_reports_a_changed_file(help_center):
    run("ingest", str(help_center), "--workspace", "new-co", "--source", "Help")
    (help_center / "en" / "billing.md").write_text("# Billing\n\nInvoices are emailed monthly.\n")

    output = run("ingest", str(help_center), "--workspace", "new-co", "--source", "Help")

    assert "(0 new, 1 changed, 0 removed, 2 unchanged)" in output


def test_ingest_of_a_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        run("ingest", str(tmp_path / "nope"), "--workspace", "x")


def test_search_json_lists_results_in_order(help_center):
    run("ingest", str(help_center), "--workspace", "new-co")

    payload = json.loads(
        run(
            "search",
            "how long is the password reset link valid",
            "--workspace",
            "new-co",
            "--k",
            "2",
            "--json",
        )
    )

    results = payload["results"]
    assert results[0]["external_id"] == "en/reset-password.md"
    assert results[0]["title"] == "Reset your password"
    assert results[0]["score"] > 0
    # --k counts articles; each comes with up to two passages.
    assert len({r["external_id"] for r in results}) == 2


def test_search_in_an_unknown_workspace_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No workspace with the slug 'ghost'"):
        run("search", "anything", "--workspace", "ghost")
