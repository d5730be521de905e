"""Test questions: the saved set, its JSONL import, and running it against the draft and the
published version side by side."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from console.audit import audit_entries_of_workspace
from routing.models import TestQuestion
from routing.question_set import (
    question_case,
    question_save,
    question_set_compare,
    questions_import,
)
from routing.services import flow_publish, flow_settings_update

pytestmark = pytest.mark.django_db

PASSWORD_CASE = {
    "id": "reset-link",
    "turns": ["How long is the password reset link valid?"],
    "customer": {"name": "Ana", "plan": "team"},
    "expect": {"outcome": "answer", "articles": ["en/reset-password.md"], "language": "en"},
}
OUT_OF_SCOPE_CASE = {
    "id": "kubernetes",
    "turns": ["How do I configure a Kubernetes ingress controller for my cluster?"],
    "expect": {"outcome": "handoff", "reason": "low_confidence"},
}


def jsonl(*cases: object) -> str:
    return "\n".join(json.dumps(case) for case in cases) + "\n"


def test_importing_cases_creates_questions_and_importing_again_updates_them(workspace, admin):
    first = questions_import(
        workspace=workspace, text=jsonl(PASSWORD_CASE, OUT_OF_SCOPE_CASE), by=admin
    )
    changed = {**PASSWORD_CASE, "turns": ["When does the reset link expire?"]}
    second = questions_import(workspace=workspace, text=jsonl(changed), by=admin)

    assert (first.created, first.updated) == (2, 0)
    assert (second.created, second.updated) == (0, 1)
    question = TestQuestion.objects.get(workspace=workspace, name="reset-link")
    assert question.turns == ["When does the reset link expire?"]
    assert question.customer == {"name": "Ana", "plan": "team"}
    assert question_case(question) == changed
    audited = audit_entries_of_workspace(workspace=workspace, area="test questions")
    assert audited.count() == 3 and {entry.user for entry in audited} == {admin}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("not json\n", "Line 1: not JSON"),
        (jsonl(PASSWORD_CASE, {"id": "x", "turns": []}), "Line 2: A case needs an `expect`"),
        (
            jsonl({**PASSWORD_CASE, "expect": {"outcome": "maybe"}}),
            "Line 1: expected_outcome: Expect an answer or a handoff.",
        ),
        (jsonl(PASSWORD_CASE, PASSWORD_CASE), "The id 'reset-link' appears twice."),
        ("\n\n", "The file holds no cases"),
    ],
)
def test_a_bad_file_names_its_line_and_saves_nothing(workspace, admin, text, error):
    with pytest.raises(ValidationError) as refused:
        questions_import(workspace=workspace, text=text, by=admin)

    assert refused.value.message_dict["file"][0].startswith(error)
    assert not TestQuestion.objects.filter(workspace=workspace).exists()


def test_a_question_needs_turns_and_a_known_expectation(workspace, admin):
    with pytest.raises(ValidationError) as refused:
        question_save(
            workspace=workspace,
            data={
                "name": "",
                "turns": ["  "],
                "expected_outcome": "answer",
                "expected_language": "xx",
            },
            by=admin,
        )

    assert set(refused.value.message_dict) == {"name", "turns", "expected_language"}


def test_the_set_runs_against_draft_and_published_and_shows_what_changed(
    workspace, admin, synced_source
):
    questions_import(workspace=workspace, text=jsonl(PASSWORD_CASE, OUT_OF_SCOPE_CASE), by=admin)
    flow = workspace.flows.get()
    flow = flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.4},
        expected_revision=flow.draft_revision,
    )
    flow_publish(flow=flow, published_by=admin)
    # The draft demands more confidence than any passage of the tiny help center reaches.
    flow = flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.99},
        expected_revision=flow.draft_revision,
    )
    flow.refresh_from_db()

    results = {
        result.question.name: result
        for result in question_set_compare(
            flow=flow, questions=list(TestQuestion.objects.filter(workspace=workspace))
        )
    }

    password = results["reset-link"]
    assert password.published is not None and password.published.passed
    assert password.published.run.cited[0] == "en/reset-password.md"
    assert not password.draft.passed and password.changed
    assert password.draft.failures == ["expected answer, got handoff"]
    kubernetes = results["kubernetes"]
    assert kubernetes.draft.passed and kubernetes.published is not None
    assert kubernetes.published.passed and not kubernetes.changed
