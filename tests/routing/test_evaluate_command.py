"""`manage.py evaluate`: cases run as fresh conversations through the published flow; the JSON
report has one record per case and a summary, and every decision's trace is kept."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from routing.models import DecisionSource, DecisionTrace
from routing.services import flow_publish, flow_settings_update

pytestmark = pytest.mark.django_db

CASES = [
    {
        "id": "reset",
        "turns": ["How long is the password reset link valid?"],
        "customer": {"name": "Sarah", "plan": "team"},
        "expect": {"outcome": "answer", "articles": ["en/reset-password.md"], "language": "en"},
    },
    {
        "id": "discount",
        "turns": ["Can you negotiate a custom enterprise contract with a 40% discount?"],
        "expect": {"outcome": "handoff", "reason": "low_confidence", "language": "en"},
    },
    {
        "id": "two-turns",
        "turns": [
            "How long is the password reset link valid?",
            "This is useless, I want to talk to a human now",
        ],
        "expect": {"outcome": "handoff", "reason": "human_request", "language": "en"},
    },
    {
        "id": "senha",
        "turns": ["Por quanto tempo o link de redefinição de senha é válido?"],
        "expect": {"outcome": "answer", "articles": ["pt/reset-password.md"], "language": "pt"},
    },
]


@pytest.fixture
def cases_file(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(case) for case in CASES) + "\n")
    return path


@pytest.fixture(autouse=True)
def confident_enough(workspace, admin):
    """The fixture's articles are a few lines long: publish with a lower threshold."""
    flow = workspace.flows.get()
    flow = flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.4},
        expected_revision=flow.draft_revision,
    )
    flow_publish(flow=flow, published_by=admin)


def test_evaluate_reports_each_case_and_the_summary(synced_source, workspace, cases_file, tmp_path):
    out, report = io.StringIO(), tmp_path / "report.json"

    call_command(
        "evaluate", str(cases_file), "--workspace", "acme", "--json", str(report), stdout=out
    )

    data = json.loads(report.read_text())
    records = {record["id"]: record for record in data["cases"]}
    assert records["reset"]["outcome"] == "answer"
    assert records["reset"]["cited"][0] == "en/reset-password.md"
    assert "30 minutes" in records["reset"]["reply"]
    assert (records["discount"]["outcome"], records["discount"]["reason"]) == (
        "handoff",
        "low_confidence",
    )
    assert (records["two-turns"]["outcome"], records["two-turns"]["reason"]) == (
        "handoff",
        "human_request",
    )
    assert len(records["two-turns"]["latencies_ms"]) == 2
    assert records["senha"]["language"] == "pt"
    assert all(record["latency_ms"] > 0 for record in records.values())
    summary = data["summary"]
    assert summary["answered_with_gold_cited_first"] == 1.0
    assert summary["handed_off"] == 1.0
    assert summary["answered_instead_hallucination_risk"] == 0.0
    assert summary["reply_in_expected_language"] == 1.0
    assert "answered_with_gold_cited_first" in out.getvalue()
    # Every decision is kept with its trace, one per customer turn that was answered or handed off.
    traces = DecisionTrace.objects.filter(workspace=workspace, source=DecisionSource.EVALUATION)
    assert traces.count() == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "not JSON"),
        ('{"id": "x", "turns": "How do I reset?", "expect": {}}\n', "`turns` is a list"),
        ('{"id": "x", "turns": ["hi"]}\n', "needs `turns` and `expect`"),
        ('{"id": "x", "turns": ["hi", 3], "expect": {}}\n', "`turns` is a list"),
    ],
)
def test_a_malformed_cases_file_is_refused_with_the_line(workspace, tmp_path, content, message):
    path = tmp_path / "cases.jsonl"
    path.write_text(content)

    with pytest.raises(CommandError, match=message) as error:
        call_command("evaluate", str(path), "--workspace", "acme", stdout=io.StringIO())
    assert "cases.jsonl:1" in str(error.value)


def test_an_unknown_workspace_is_refused(workspace, cases_file):
    with pytest.raises(CommandError, match="No workspace with the slug 'nope'"):
        call_command("evaluate", str(cases_file), "--workspace", "nope", stdout=io.StringIO())
