"""A flow's Export / import page: the flow (settings, rules, queues, action policies) as YAML to
read, download and keep in version control, and an edited or pasted YAML imported back into the
draft, all or nothing, with every problem named by its line.

Every member sees and downloads the export; only admins import. The logic lives in
`routing.flow_yaml`; this module only moves text between the browser and it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from console.access import ADMINS_ONLY, signed_in_user, workspace_member_required
from console.audit import Change
from console.flow_release_display import change_groups
from console.flow_release_forms import FlowImportForm
from console.flow_views import _context, _flow_or_404
from console.models import Membership
from routing.flow_yaml import FlowYamlError, YamlProblem, flow_export_yaml, flow_yaml_import
from routing.models import SupportFlow
from routing.services import DraftChangedError

TAB = "export"


def _export_context(
    membership: Membership,
    flow: SupportFlow,
    *,
    form: FlowImportForm | None = None,
    editor_text: str | None = None,
    problems: list[YamlProblem] | None = None,
    imported: list[Change] | None = None,
    draft_changed: bool = False,
) -> dict[str, object]:
    exported = flow_export_yaml(flow)
    return _context(
        membership,
        flow=flow,
        tab=TAB,
        exported=exported,
        form=form or FlowImportForm(initial={"revision": flow.draft_revision}),
        editor_text=exported if editor_text is None else editor_text,
        problems=problems or [],
        imported=imported,
        imported_groups=change_groups(imported or []),
        draft_changed=draft_changed,
        filename=_filename(flow),
    )


def _filename(flow: SupportFlow) -> str:
    return f"{slugify(flow.name) or 'flow'}.yaml"


@workspace_member_required()
def flow_export(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    return render(request, "routing/export.html", _export_context(membership, flow))


@workspace_member_required()
def flow_export_download(
    request: HttpRequest, membership: Membership, flow_id: int
) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    response = HttpResponse(flow_export_yaml(flow), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(flow)}"'
    return response


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def flow_import(request: HttpRequest, membership: Membership, flow_id: int) -> HttpResponse:
    flow = _flow_or_404(membership, flow_id)
    form = FlowImportForm(request.POST, request.FILES)
    # On a problem the editor shows what was imported (a chosen file's text, so that the line
    # numbers match what is on screen), never the export it replaced.
    editor_text = request.POST.get("yaml_text", "")
    problems: list[YamlProblem] = []
    draft_changed = False
    if form.is_valid():
        text = form.cleaned_data["text"]
        editor_text = text
        user = signed_in_user(request)
        try:
            result = flow_yaml_import(
                flow=flow,
                text=text,
                expected_revision=form.cleaned_data["revision"],
                by=user,
            )
        except FlowYamlError as error:
            problems = error.problems
        except DraftChangedError as error:
            form.add_error(None, error.messages)
            draft_changed = True
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            flow = result.flow
            context = _export_context(membership, flow, imported=result.changes)
            return render(request, "routing/export.html", context)
    context = _export_context(
        membership,
        flow,
        form=form,
        editor_text=editor_text,
        problems=problems,
        draft_changed=draft_changed,
    )
    return render(request, "routing/export.html", context, status=400)
