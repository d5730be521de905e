"""A flow's Publish page: what changed since the published version, the test questions on the
draft, publishing (with an explicit confirmation when questions fail), and the version history
with rollback.

Every member sees the page; admins publish and roll back; admins and agents run the questions.
Publishing checks on the server what the page showed: the draft revision the admin reviewed, and
the test questions, run again, failing exactly as many times as the admin confirmed.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from console.access import ADMINS_AND_AGENTS, ADMINS_ONLY, signed_in_user, workspace_member_required
from console.flow_release_display import ResultTable, change_groups, draft_table
from console.flow_release_forms import PublishForm, RollbackForm
from console.flow_views import _context, _flow_or_404
from console.models import Membership, Role
from routing.flow_release import (
    TestQuestionsFailError,
    draft_changes,
    draft_test_results,
    failures_confirmation,
    flow_publish_reviewed,
    flow_rollback_reviewed,
)
from routing.models import SupportFlow
from routing.question_set import questions_of_workspace
from routing.selectors import versions_of_flow
from routing.services import DraftChangedError

TAB = "publish"


def _is_htmx(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)  # set by django-htmx's middleware
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


def _publish_context(
    membership: Membership,
    flow: SupportFlow,
    *,
    form: PublishForm | None = None,
    results: ResultTable | None = None,
    run_error: str = "",
    draft_changed: bool = False,
) -> dict[str, object]:
    try:
        groups, draft_error = change_groups(draft_changes(flow)), ""
    except ValidationError as error:  # a rule hands off to a deleted queue
        groups, draft_error = [], " ".join(error.messages)
    failing = results.draft_failed if results is not None else 0
    has_changes = bool(groups) or flow.published_version is None
    return _context(
        membership,
        flow=flow,
        tab=TAB,
        change_groups=groups,
        draft_error=draft_error,
        has_changes=has_changes,
        can_publish=membership.is_admin and has_changes and not draft_error,
        old_label=f"Published (version {flow.published_version.number})"
        if flow.published_version
        else "Before",
        question_count=questions_of_workspace(workspace=membership.workspace).count(),
        form=form or PublishForm(initial={"revision": flow.draft_revision}),
        results=results,
        run_error=run_error,
        failing=failing,
        confirmation=failures_confirmation(failing),
        draft_changed=draft_changed,
        versions=versions_of_flow(flow=flow),
        can_run=Role(membership.role) in ADMINS_AND_AGENTS,
    )


@workspace_member_required()
def flow_publish(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    return render(request, "routing/publish.html", _publish_context(membership, flow))


@require_POST
@workspace_member_required(roles=ADMINS_AND_AGENTS)
def flow_publish_check(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    """The test questions on the draft, as publishing would run them. With htmx, the result
    region, and for admins the confirmation box of the publish form (out of band)."""
    flow = _flow_or_404(membership, flow_id)
    results, run_error = None, ""
    try:
        results = draft_table(draft_test_results(flow))
    except ValidationError as error:
        run_error = f"The draft cannot run: {' '.join(error.messages)}"
    context = _publish_context(membership, flow, results=results, run_error=run_error)
    if _is_htmx(request):
        response = render(request, "routing/_publish_check.html", {**context, "oob": True})
    else:
        response = render(request, "routing/publish.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def flow_publish_version(
    request: HttpRequest, membership: Membership, flow_id: int
) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    form = PublishForm(request.POST)
    results, draft_changed = None, False
    if form.is_valid():
        values = form.cleaned_data
        try:
            version = flow_publish_reviewed(
                flow=flow,
                expected_revision=values["revision"],
                by=signed_in_user(request),
                note=values["note"],
                confirmed_failures=values["confirm_failures"],
            )
        except TestQuestionsFailError as error:
            results = draft_table(error.results)
            form.add_error("confirm_failures", error.message_dict["confirm_failures"])
        except DraftChangedError as error:
            form.add_error(None, error.messages)
            draft_changed = True
        except ValidationError as error:  # nothing to publish, or a draft that cannot be
            form.add_error(None, error.messages)
        else:
            messages.success(
                request,
                f"Published version {version.number}. Customers get it from their next message.",
            )
            return redirect(
                "console:flow_publish", workspace_slug=membership.workspace.slug, flow_id=flow.pk
            )
    flow.refresh_from_db()
    context = _publish_context(
        membership, flow, form=form, results=results, draft_changed=draft_changed
    )
    return render(request, "routing/publish.html", context, status=400)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def flow_rollback(
    request: HttpRequest, membership: Membership, flow_id: int, version_id: int
) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    version = versions_of_flow(flow=flow).filter(pk=version_id).first()
    if version is None:
        raise Http404("No such version.")
    form = RollbackForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing was rolled back: reload the page and try again.")
    else:
        try:
            rolled = flow_rollback_reviewed(
                flow=flow,
                version=version,
                expected_revision=form.cleaned_data["revision"],
                by=signed_in_user(request),
            )
        except ValidationError as error:  # the draft changed meanwhile, or another flow's version
            messages.error(request, f"Nothing was rolled back. {' '.join(error.messages)}")
        else:
            messages.success(
                request,
                f"Rolled back to version {version.number}: it is live again as version "
                f"{rolled.number}, and the draft was reset to it.",
            )
    return redirect(
        "console:flow_publish", workspace_slug=membership.workspace.slug, flow_id=flow.pk
    )
