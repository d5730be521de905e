"""A flow's Test questions page: the workspace's saved questions (add, edit, delete, import and
export as JSONL) and a run of all of them against the draft and the published version, side by
side.

Every member sees the questions; admins change them; admins and agents run them (running stores
nothing). The run works as a plain form; with htmx only its result region is swapped.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from console.access import ADMINS_AND_AGENTS, ADMINS_ONLY, signed_in_user, workspace_member_required
from console.flow_release_display import ResultTable, compared_table, expectation_text
from console.flow_release_forms import QuestionsImportForm, TestQuestionForm
from console.flow_views import _context, _flow_or_404
from console.knowledge_forms import add_service_errors
from console.models import Membership, Role, Workspace
from knowledge.selectors import articles_of_workspace
from routing.flow_release import QuestionChangedError, question_update
from routing.models import SupportFlow, TestQuestion
from routing.question_set import (
    question_case,
    question_delete,
    question_save,
    question_set_compare,
    questions_import,
    questions_of_workspace,
)

TAB = "tests"
# Offered as suggestions in "Find an article"; a larger help center still validates every id.
ARTICLE_SUGGESTIONS_MAX = 5000


def _is_htmx(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)  # set by django-htmx's middleware
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


def _question_or_404(workspace: Workspace, question_id: int) -> TestQuestion:
    question = questions_of_workspace(workspace=workspace).filter(pk=question_id).first()
    if question is None:
        raise Http404("No such test question.")
    return question


def _question_rows(workspace: Workspace) -> list[dict[str, object]]:
    return [
        {
            "question": question,
            "customer": [f"{key}: {value}" for key, value in question.customer.items()],
            "expectation": expectation_text(
                question.expected_outcome,
                question.expected_articles,
                question.expected_language,
                question.expected_reason,
                question.expected_priority,
            ),
        }
        for question in questions_of_workspace(workspace=workspace)
    ]


def _tests_context(
    membership: Membership,
    flow: SupportFlow,
    *,
    import_form: QuestionsImportForm | None = None,
    results: ResultTable | None = None,
    run_error: str = "",
) -> dict[str, object]:
    workspace = membership.workspace
    rows = _question_rows(workspace)
    return _context(
        membership,
        flow=flow,
        tab=TAB,
        rows=rows,
        import_form=import_form or QuestionsImportForm(),
        results=results,
        run_error=run_error,
        can_run=Role(membership.role) in ADMINS_AND_AGENTS,
    )


@workspace_member_required()
def flow_tests(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    return render(request, "routing/tests.html", _tests_context(membership, flow))


@require_POST
@workspace_member_required(roles=ADMINS_AND_AGENTS)
def flow_tests_run(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    """Every question against the draft and the published version. Synchronous: about 50 ms
    per question and version offline, so a few seconds for a hundred questions."""
    flow = _flow_or_404(membership, flow_id)
    questions = list(questions_of_workspace(workspace=membership.workspace))
    results, run_error = None, ""
    if not questions:
        run_error = "There are no test questions yet: add one, or import a JSONL file."
    else:
        try:
            results = compared_table(question_set_compare(flow=flow, questions=questions))
        except ValidationError as error:  # the draft cannot run (a rule's queue is gone)
            run_error = f"The draft cannot run: {' '.join(error.messages)}"
    context = _tests_context(membership, flow, results=results, run_error=run_error)
    if _is_htmx(request):
        response = render(request, "routing/_test_run.html", {**context, "oob": True})
    else:
        response = render(request, "routing/tests.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- the saved set ---------------------------------------------------------------------------


def _known_articles(workspace: Workspace) -> list[tuple[str, str]]:
    """(external id, title) of the workspace's articles, for suggestions and checks."""
    seen: dict[str, str] = {}
    for external_id, title in articles_of_workspace(workspace=workspace).values_list(
        "external_id", "title"
    ):
        seen.setdefault(external_id, title)
    return sorted(seen.items())


def _question_form_page(
    request: HttpRequest,
    membership: Membership,
    flow: SupportFlow,
    question: TestQuestion | None,
) -> HttpResponse:
    workspace = membership.workspace
    articles = _known_articles(workspace)
    known = {external_id for external_id, _ in articles}
    if request.method == "POST":
        form = TestQuestionForm(request.POST, known_articles=known)
    else:
        initial = TestQuestionForm.initial_of(question) if question else None
        form = TestQuestionForm(initial=initial, known_articles=known)
    changed_meanwhile = False
    if request.method == "POST" and form.is_valid():
        data, by = form.question_data(), signed_in_user(request)
        try:
            if question is None:
                saved = question_save(workspace=workspace, data=data, by=by)
            else:
                saved = question_update(
                    question=question,
                    data=data,
                    expected_updated_at=form.cleaned_data["updated_at"],
                    by=by,
                )
        except QuestionChangedError as error:
            form.add_error(None, error.messages)
            changed_meanwhile = True
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            verb = "Added" if question is None else "Saved"
            messages.success(request, f"{verb} the test question “{saved.name}”.")
            return redirect("console:flow_tests", workspace_slug=workspace.slug, flow_id=flow.pk)
    _autofocus_first_error(form)
    return render(
        request,
        "routing/test_question_form.html",
        _context(
            membership,
            flow=flow,
            tab=TAB,
            form=form,
            question=question,
            changed_meanwhile=changed_meanwhile,
            articles=articles[:ARTICLE_SUGGESTIONS_MAX],
        ),
        status=400 if form.errors else 200,
    )


def _autofocus_first_error(form: TestQuestionForm) -> None:
    first = next((name for name in form.fields if name in form.errors), None)
    if first is not None:
        form.fields[first].widget.attrs["autofocus"] = True


@workspace_member_required(roles=ADMINS_ONLY)
def flow_test_add(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    return _question_form_page(request, membership, flow, None)


@workspace_member_required(roles=ADMINS_ONLY)
def flow_test_edit(
    request: HttpRequest, membership: Membership, flow_id: int, question_id: int
) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    question = _question_or_404(membership.workspace, question_id)
    return _question_form_page(request, membership, flow, question)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def flow_test_delete(
    request: HttpRequest, membership: Membership, flow_id: int, question_id: int
) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    question = _question_or_404(membership.workspace, question_id)
    name = question.name
    question_delete(question=question, by=signed_in_user(request))
    messages.success(request, f"Deleted the test question “{name}”.")
    return redirect("console:flow_tests", workspace_slug=membership.workspace.slug, flow_id=flow.pk)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def flow_tests_import(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    form = QuestionsImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            summary = questions_import(
                workspace=membership.workspace,
                text=form.cleaned_data["file"],
                by=signed_in_user(request),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                f"Imported {summary.created} new and updated {summary.updated} test questions.",
            )
            return redirect(
                "console:flow_tests", workspace_slug=membership.workspace.slug, flow_id=flow.pk
            )
    return render(
        request,
        "routing/tests.html",
        _tests_context(membership, flow, import_form=form),
        status=400,
    )


@workspace_member_required()
def flow_tests_export(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    """The set as JSONL in the evaluation format: `manage.py evaluate` and the import read it."""
    _flow_or_404(membership, flow_id)
    lines = [
        json.dumps(question_case(question), ensure_ascii=False)
        for question in questions_of_workspace(workspace=membership.workspace)
    ]
    response = HttpResponse(
        "".join(f"{line}\n" for line in lines), content_type="application/jsonl; charset=utf-8"
    )
    filename = f"test-questions-{membership.workspace.slug}.jsonl"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
