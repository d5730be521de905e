"""The flow's settings pages: each stage of the overview's diagram edited in place, and the
guardrails page (the prompt with a live preview of what the LLM would receive, and the fallback
and handoff messages per language).

Every member sees them; only admins edit. Forms work without JavaScript (the stage forms then
open on a page of their own); with htmx a stage's card is swapped for its form and back, and
the preview follows the prompt as it is typed. Saves go through `flow_settings_update`, which
validates, refuses a draft that changed since the form was opened, and audits each change.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from console.access import ADMINS_ONLY, signed_in_user, workspace_member_required
from console.flow_display import language_name
from console.flow_settings_forms import (
    DEFAULT_EXAMPLE_MESSAGE,
    STAGE_FORMS,
    DraftSettingsForm,
    GuardrailPromptForm,
    GuardrailsForm,
    PromptExampleForm,
)
from console.flow_views import _context, _flow_or_404, flow_diagram
from console.knowledge_forms import add_service_errors
from console.models import Membership, User
from routing.flow_settings import FlowSettings
from routing.guardrail import GUARDRAIL_VARIABLES, PromptPreview, guardrail_prompt_preview
from routing.models import SupportFlow
from routing.selectors import flow_has_unpublished_changes
from routing.services import DraftChangedError, flow_settings_update

# The stage cards of the overview (templates/routing/_stage_<key>.html), by the name a person
# reads: "Edit sentiment", "Saved the sentiment settings".
STAGE_LABELS = {
    "language": "language",
    "sentiment": "sentiment",
    "retrieval": "retrieval",
    "confidence": "confidence",
    "hours": "business hours",
    "rules": "rules",
    "answer": "answer",
    "handoff": "handoff",
    "actions": "AI actions",
}


DEFAULT_EXAMPLE = {"example_message": DEFAULT_EXAMPLE_MESSAGE}
# As routing.services words it when the save itself finds the draft changed.
DRAFT_CHANGED = "Someone else changed this draft since you opened it; reload to see their change."


def _is_htmx(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)  # set by django-htmx's middleware
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


def _draft_settings(flow: SupportFlow) -> tuple[FlowSettings, list[str]]:
    """The draft's settings, or the defaults and what is wrong with the stored ones."""
    try:
        return FlowSettings.from_json(flow.settings), []
    except ValidationError as error:
        return FlowSettings(), error.messages


def _save(
    form: DraftSettingsForm, flow: SupportFlow, user: User
) -> tuple[SupportFlow | None, bool]:
    """Save the form's settings into the draft: the updated flow, or None with the service's
    objections added to the form (and whether the draft changed since the form was opened)."""
    try:
        updated = flow_settings_update(
            flow=flow,
            settings=form.settings_from(flow.settings),
            expected_revision=form.cleaned_data["revision"],
            by=user,
        )
    except DraftChangedError as error:
        form.add_error(None, error.messages)
        return None, True
    except ValidationError as error:
        add_service_errors(form, error)
        return None, False
    return updated, False


def _autofocus(form: DraftSettingsForm) -> None:
    """Focus the first field with an error, or the first field: where the person goes next."""
    names = [name for name in form.fields if name != "revision"]
    first = next((name for name in names if name in form.errors), names[0] if names else None)
    if first is not None:
        form.fields[first].widget.attrs["autofocus"] = True


# --- the overview's stages -------------------------------------------------------------------


def _stage_context(
    membership: Membership, flow: SupportFlow, stage: str, **extra: object
) -> dict[str, object]:
    diagram, _ = flow_diagram(membership.workspace, flow)
    return _context(
        membership,
        flow=flow,
        diagram=diagram,
        stage=stage,
        stage_label=STAGE_LABELS[stage],
        card_template=f"routing/_stage_{stage}.html",
        **extra,
    )


@workspace_member_required()
def flow_stage(
    request: HttpRequest, membership: Membership, flow_id: int, stage: str
) -> HttpResponse:
    """One stage's card: what Cancel puts back in place of the stage's form."""
    flow = _flow_or_404(membership, flow_id)
    if stage not in STAGE_LABELS:
        raise Http404("No such stage.")
    if not _is_htmx(request):
        overview = reverse("console:flow", args=[membership.workspace.slug, flow.pk])
        return redirect(f"{overview}#stage-{stage}")
    response = render(
        request,
        f"routing/_stage_{stage}.html",
        _stage_context(membership, flow, stage, focus_stage=stage),
    )
    patch_vary_headers(response, ("HX-Request",))
    return response


@workspace_member_required(roles=ADMINS_ONLY)
def flow_stage_edit(
    request: HttpRequest, membership: Membership, flow_id: int, stage: str
) -> HttpResponse:
    """A stage's settings form: in place of its card (htmx), or as a page of its own."""
    flow = _flow_or_404(membership, flow_id)
    form_class = STAGE_FORMS.get(stage)
    if form_class is None:
        raise Http404("This stage has no settings of its own.")
    auto_id = f"id_{stage}_%s"  # unique ids: several stages may be open on the overview
    draft_changed = False
    if request.method == "POST":
        form = form_class(request.POST, auto_id=auto_id)
        if form.is_valid():
            updated, draft_changed = _save(form, flow, signed_in_user(request))
            if updated is not None:
                return _stage_saved(
                    request, membership, updated, stage, form.cleaned_data["revision"]
                )
    else:
        settings, problems = _draft_settings(flow)
        initial = {**form_class.initial_from(settings), "revision": flow.draft_revision}
        form = form_class(initial=initial, auto_id=auto_id)
        for problem in problems:
            form.add_error(None, f"The stored draft is not valid: {problem}")
    _autofocus(form)
    context = _stage_context(membership, flow, stage, form=form, draft_changed=draft_changed)
    if _is_htmx(request):
        # htmx swaps only successful responses: errors come back as a 200 form that keeps
        # what the person typed.
        response = render(request, "routing/_stage_form.html", context)
    else:
        status = 409 if draft_changed else 400 if form.errors and request.method == "POST" else 200
        response = render(request, "routing/stage_edit.html", context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _stage_saved(
    request: HttpRequest,
    membership: Membership,
    flow: SupportFlow,
    stage: str,
    saved_from_revision: int,
) -> HttpResponse:
    label = STAGE_LABELS[stage]
    saved = f"Saved the {label} settings: the draft is at revision {flow.draft_revision}."
    if not _is_htmx(request):
        messages.success(request, saved)
        overview = reverse("console:flow", args=[membership.workspace.slug, flow.pk])
        return redirect(f"{overview}#stage-{stage}")
    # The card, and out of band: the draft's state, the status message, and the revision of
    # the other open stage forms that were opened at the same revision as this one: this save
    # was the only change since, and it did not touch their fields. Forms opened earlier keep
    # theirs, so their save is still refused if someone else changed the draft in between.
    context = _stage_context(
        membership,
        flow,
        stage,
        focus_stage=stage,
        saved_message=saved,
        saved_from_revision=saved_from_revision,
        unpublished_changes=flow_has_unpublished_changes(flow),
    )
    response = render(request, "routing/_stage_saved.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- guardrails ------------------------------------------------------------------------------


def _guardrails_context(
    membership: Membership,
    flow: SupportFlow,
    settings: FlowSettings,
    *,
    form: GuardrailsForm | None,
    example_form: PromptExampleForm,
    prompt: str,
    **extra: object,
) -> dict[str, object]:
    preview = _preview(membership, settings, prompt, example_form)
    return _context(
        membership,
        flow=flow,
        settings=settings,
        form=form,
        example_form=example_form,
        preview=preview,
        preview_language_name=language_name(preview.language) if preview else "",
        variables=_variables(membership, preview),
        language_messages=[
            {
                "name": language_name(code),
                "fallback": settings.fallback_messages.get(code, ""),
                "handoff": settings.handoff_messages.get(code, ""),
            }
            for code in settings.languages
        ],
        **extra,
    )


def _variables(membership: Membership, preview: PromptPreview | None) -> list[dict[str, str]]:
    """Each variable, what it means, and what it is in the preview."""
    examples = {
        "company": membership.workspace.name,
        "language": language_name(preview.language) if preview else "",
    }
    return [
        {"name": f"{{{name}}}", "meaning": meaning, "example": examples.get(name, "")}
        for name, meaning in GUARDRAIL_VARIABLES.items()
    ]


def _preview(
    membership: Membership, settings: FlowSettings, prompt: str, example_form: PromptExampleForm
) -> PromptPreview | None:
    if not prompt or not example_form.is_valid():
        return None
    return guardrail_prompt_preview(
        workspace=membership.workspace,
        settings=settings,
        guardrail_prompt=prompt,
        message=example_form.cleaned_data["example_message"],
        language=example_form.cleaned_data["preview_language"],
    )


@workspace_member_required()
def flow_guardrails(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    settings, problems = _draft_settings(flow)
    form = None
    if membership.is_admin and not problems:
        initial = {**GuardrailsForm.initial_from(settings), "revision": flow.draft_revision}
        form = GuardrailsForm(initial=initial, languages=settings.languages)
    # The preview shows the saved prompt until the admin types (then htmx asks for a new one).
    # Retrieval takes a moment: the page comes first, and htmx asks for the preview once it
    # has loaded; the example form (without JavaScript) asks for the page with the preview.
    wants_preview = "example_message" in request.GET
    example = request.GET if wants_preview else DEFAULT_EXAMPLE
    example_form = PromptExampleForm(example, languages=settings.languages)
    if _is_htmx(request):
        context = _guardrails_context(
            membership,
            flow,
            settings,
            form=None,
            example_form=example_form,
            prompt=settings.guardrail_prompt,
            live=True,
        )
        response = render(request, "routing/_guardrail_preview.html", context)
    else:
        context = _guardrails_context(
            membership,
            flow,
            settings,
            form=form,
            example_form=example_form,
            prompt=settings.guardrail_prompt if wants_preview else "",
            settings_problems=problems,
        )
        response = render(request, "routing/guardrails.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def flow_guardrails_save(
    request: HttpRequest, membership: Membership, flow_id: int
) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    settings, problems = _draft_settings(flow)
    form = GuardrailsForm(request.POST, languages=settings.languages)
    example_form = PromptExampleForm(request.POST, languages=settings.languages)
    draft_changed = False
    valid = form.is_valid()
    if not valid and form.data.get("revision") != str(flow.draft_revision):
        # The fields follow the draft's languages: when someone else changed those, the
        # form's own errors would mislead without this.
        form.add_error(None, DRAFT_CHANGED)
        draft_changed = True
    elif valid:
        updated, draft_changed = _save(form, flow, signed_in_user(request))
        if updated is not None:
            messages.success(
                request,
                f"Saved the guardrails: the draft is at revision {updated.draft_revision}.",
            )
            return redirect("console:flow_guardrails", membership.workspace.slug, flow.pk)
    context = _guardrails_context(
        membership,
        flow,
        settings,
        form=form,
        example_form=example_form,
        prompt=form.cleaned_data.get("guardrail_prompt", ""),
        settings_problems=problems,
        draft_changed=draft_changed,
    )
    return render(request, "routing/guardrails.html", context, status=409 if draft_changed else 400)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def flow_guardrails_preview(
    request: HttpRequest, membership: Membership, flow_id: int
) -> HttpResponse:
    """The preview for the prompt as typed: the region alone for htmx (live, as the admin
    types), the whole page with the form as typed for the Preview button without JavaScript."""
    flow = _flow_or_404(membership, flow_id)
    settings, problems = _draft_settings(flow)
    prompt_form = GuardrailPromptForm(request.POST)
    example_form = PromptExampleForm(request.POST, languages=settings.languages)
    prompt = prompt_form.cleaned_data["guardrail_prompt"] if prompt_form.is_valid() else ""
    extra: dict[str, Any] = {"prompt_errors": prompt_form.errors.get("guardrail_prompt", [])}
    if _is_htmx(request):
        context = _guardrails_context(
            membership,
            flow,
            settings,
            form=None,
            example_form=example_form,
            prompt=prompt,
            live=True,
            **extra,
        )
        response = render(request, "routing/_guardrail_preview.html", context)
    else:
        form = GuardrailsForm(request.POST, languages=settings.languages)
        form.is_valid()  # shows what is wrong next to the fields, as a save would
        context = _guardrails_context(
            membership,
            flow,
            settings,
            form=form,
            example_form=example_form,
            prompt=prompt,
            settings_problems=problems,
            previewing=True,
            **extra,
        )
        response = render(request, "routing/guardrails.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response
