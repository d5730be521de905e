"""Publishing a flow the way the console's Publish page does it: only the draft the admin
reviewed, only with something to publish, and never with failing test questions unless the admin
confirmed exactly that many failures. Rolling back and editing a test question refuse to
overwrite a change someone else made in between.

The underlying writes (and their audit) are `routing.services.flow_publish` / `flow_rollback`
and `routing.question_set.question_save`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from console.audit import Change
from console.models import User
from routing.flow_diff import snapshot_changes
from routing.models import FlowVersion, SupportFlow, TestQuestion
from routing.question_set import (
    QuestionResult,
    flow_draft_version,
    question_save,
    questions_of_workspace,
    questions_run,
)
from routing.services import DraftChangedError, draft_snapshot, flow_publish, flow_rollback

DRAFT_CHANGED_MESSAGE = (
    "Someone else changed this draft since you opened it; reload to see their change."
)


class TestQuestionsFailError(ValidationError):
    """Publishing was refused because test questions fail and the admin did not confirm it."""

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self, results: list[QuestionResult]) -> None:
        self.results = results
        self.failing = sum(not result.passed for result in results)
        super().__init__(
            {
                "confirm_failures": (
                    f"{self.failing} of {len(results)} test questions "
                    f"{'fails' if self.failing == 1 else 'fail'} on this draft. Tick "
                    f"“{failures_confirmation(self.failing)}” to publish it anyway."
                )
            }
        )


def failures_confirmation(failing: int) -> str:
    """The words of the box an admin ticks to publish with failing test questions."""
    if failing == 1:
        return "Publish although 1 test question fails"
    return f"Publish although {failing} test questions fail"


def draft_changes(flow: SupportFlow) -> list[Change]:
    """What publishing the draft would change for customers: settings by field, rules by name,
    queues by name (everything is new when nothing was published). ValidationError when the
    draft cannot be published (a rule hands off to a deleted queue)."""
    published = flow.published_version
    return snapshot_changes(published.snapshot if published else {}, draft_snapshot(flow))


def draft_test_results(flow: SupportFlow) -> list[QuestionResult]:
    """The workspace's test questions run against the draft, as a fresh conversation each."""
    questions = list(questions_of_workspace(workspace=flow.workspace))
    if not questions:
        return []
    return questions_run(version=flow_draft_version(flow), questions=questions)


def flow_publish_reviewed(
    *,
    flow: SupportFlow,
    expected_revision: int,
    by: User | None,
    note: str = "",
    confirmed_failures: int | None = None,
) -> FlowVersion:
    """Publish the draft at `expected_revision` (the one the admin reviewed). The test questions
    run here, on the server: when N of them fail, `confirmed_failures` must be N (the admin
    ticked "Publish although N test questions fail"), else TestQuestionsFailError."""
    fresh = SupportFlow.objects.select_related("published_version", "workspace").get(pk=flow.pk)
    if fresh.draft_revision != expected_revision:
        raise DraftChangedError(DRAFT_CHANGED_MESSAGE)
    if fresh.published_version is not None and not draft_changes(fresh):
        raise ValidationError(
            f"Nothing to publish: the draft is the same as version "
            f"{fresh.published_version.number}, which is live."
        )
    # Run before taking the lock: a long run must not hold up other admins' saves. The revision
    # is checked again under the lock, so what is published is what was tested.
    results = draft_test_results(fresh)
    failing = sum(not result.passed for result in results)
    if failing and confirmed_failures != failing:
        raise TestQuestionsFailError(results)
    with transaction.atomic():
        locked = SupportFlow.objects.select_for_update().get(pk=flow.pk)
        if locked.draft_revision != expected_revision:
            raise DraftChangedError(DRAFT_CHANGED_MESSAGE)
        return flow_publish(flow=locked, published_by=by, note=note.strip())


@transaction.atomic
def flow_rollback_reviewed(
    *, flow: SupportFlow, version: FlowVersion, expected_revision: int, by: User | None
) -> FlowVersion:
    """Publish `version` again and reset the draft to it, unless the draft changed since the
    admin opened the page (their rollback would silently throw that change away)."""
    locked = SupportFlow.objects.select_for_update().get(pk=flow.pk)
    if locked.draft_revision != expected_revision:
        raise DraftChangedError(DRAFT_CHANGED_MESSAGE)
    return flow_rollback(flow=locked, version=version, published_by=by)


class QuestionChangedError(ValidationError):
    """The test question was changed by someone else since the editor loaded it."""


@transaction.atomic
def question_update(
    *,
    question: TestQuestion,
    data: Mapping[str, Any],
    expected_updated_at: datetime | None,
    by: User | None,
) -> TestQuestion:
    """Save an edited question unless someone else saved it since the editor loaded it
    (`expected_updated_at`), or deleted it."""
    locked = TestQuestion.objects.select_for_update().filter(pk=question.pk).first()
    if locked is None:
        raise QuestionChangedError(
            "Someone else deleted this test question since you opened it. Add it again to keep it."
        )
    if expected_updated_at is None:
        raise QuestionChangedError(
            "Reload the page and edit the question again: the form did not say which version of "
            "it you edited."
        )
    if locked.updated_at != expected_updated_at:
        raise QuestionChangedError(
            "Someone else changed this test question since you opened it. Your changes are not "
            "saved: reload to see theirs, then make yours again."
        )
    return question_save(workspace=locked.workspace, data=data, by=by, question=locked)
