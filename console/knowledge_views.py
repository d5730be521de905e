"""The console's Knowledge section: sources and their sync, articles, and a search playground.

Thin views: they check access, validate input and call `knowledge.services` (writes) and
`knowledge.selectors` (reads). Pages work without JavaScript; with htmx, the article search and
the playground swap only their results region, and the sources page follows syncs live.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from console.access import ADMINS_ONLY, workspace_member_required
from console.knowledge_forms import (
    ADDABLE_KINDS,
    LANGUAGE_NAMES,
    ArticleFilterForm,
    SearchPlaygroundForm,
    UploadSourceForm,
    WebsiteSourceForm,
    add_service_errors,
    addable_kind,
)
from console.models import Membership
from knowledge import services
from knowledge.models import Source, SourceKind
from knowledge.selectors import (
    article_of_workspace,
    articles_of_workspace,
    chunks_of_article,
    knowledge_search,
    source_of_workspace,
    source_with_article_count,
    sources_of_workspace,
    sources_with_article_counts,
)

ARTICLES_PER_PAGE = 50
SECTION = "knowledge"  # highlights "Knowledge" in the side navigation on every page of the section


def _context(membership: Membership, **extra: object) -> dict[str, object]:
    return {
        "membership": membership,
        "workspace": membership.workspace,
        "current_section": SECTION,
        "can_change": membership.is_admin,
        **extra,
    }


def _render_page_or_region(
    request: HttpRequest, *, page: str, region: str, context: dict[str, object]
) -> HttpResponse:
    """The results region alone for htmx, the whole page otherwise (and when htmx restores
    history it has not cached: it needs the whole page then)."""
    htmx = getattr(request, "htmx", None)  # set by django-htmx's middleware
    wants_region = htmx is not None and bool(htmx) and not htmx.history_restore_request
    response = render(request, region if wants_region else page, context)
    # The same URL answers two ways: caches must keep them apart.
    patch_vary_headers(response, ("HX-Request",))
    return response


def _source_or_404(membership: Membership, source_id: int) -> Source:
    source = source_of_workspace(workspace=membership.workspace, source_id=source_id)
    if source is None:
        raise Http404("No such source.")
    return source


# --- sources -------------------------------------------------------------------------------


@workspace_member_required()
def sources(request: HttpRequest, membership: Membership) -> HttpResponse:
    return render(
        request,
        "knowledge/sources.html",
        _context(
            membership,
            sources=sources_with_article_counts(workspace=membership.workspace),
            addable_kinds=ADDABLE_KINDS,
        ),
    )


@workspace_member_required()
def source_row(request: HttpRequest, membership: Membership, source_id: int) -> HttpResponse:
    """One source's row, fetched by the sources page when a live update says a sync ended."""
    source = source_with_article_count(workspace=membership.workspace, source_id=source_id)
    if source is None:
        raise Http404("No such source.")
    return render(request, "knowledge/_source_row.html", _context(membership, source=source))


@workspace_member_required(roles=ADMINS_ONLY)
def source_add(request: HttpRequest, membership: Membership, kind: str) -> HttpResponse:
    addable = addable_kind(kind)
    if addable is None:
        raise Http404("No such kind of source.")
    workspace = membership.workspace
    form: UploadSourceForm | WebsiteSourceForm
    data = request.POST if request.method == "POST" else None
    if addable.kind == SourceKind.WEBSITE:
        form = WebsiteSourceForm(data)
    else:
        form = UploadSourceForm(data, request.FILES or None, kind=addable.kind)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            if addable.kind == SourceKind.WEBSITE:
                source = services.source_create(
                    workspace=workspace,
                    kind=SourceKind.WEBSITE,
                    name=values["name"],
                    settings_={"start_url": values["start_url"], "max_pages": values["max_pages"]},
                )
            else:
                source = services.source_upload_store(
                    workspace=workspace,
                    kind=addable.kind,
                    name=values["name"],
                    upload=values["file"],
                    must_be_new=True,
                )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            services.source_sync_request(source=source)
            messages.success(request, f"Added “{source.name}”. Its sync has started.")
            return redirect("console:knowledge", workspace_slug=workspace.slug)
    return render(
        request,
        "knowledge/source_add.html",
        _context(membership, form=form, addable=addable),
        status=400 if form.errors else 200,
    )


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def source_sync(request: HttpRequest, membership: Membership, source_id: int) -> HttpResponse:
    source = services.source_sync_request(source=_source_or_404(membership, source_id))
    messages.success(request, f"Sync of “{source.name}” requested.")
    return redirect("console:knowledge", workspace_slug=membership.workspace.slug)


@require_POST
@workspace_member_required(roles=ADMINS_ONLY)
def source_delete(request: HttpRequest, membership: Membership, source_id: int) -> HttpResponse:
    source = _source_or_404(membership, source_id)
    name = source.name
    services.source_delete(source=source)
    messages.success(request, f"Deleted “{name}” and its articles.")
    return redirect("console:knowledge", workspace_slug=membership.workspace.slug)


# --- articles ------------------------------------------------------------------------------


@workspace_member_required()
def articles(request: HttpRequest, membership: Membership) -> HttpResponse:
    workspace = membership.workspace
    form = ArticleFilterForm(request.GET, sources=list(sources_of_workspace(workspace=workspace)))
    # A filter that is not valid (say, a source id from another workspace) is shown as an error
    # on that field and ignored; the valid ones still apply.
    form.is_valid()
    values = form.cleaned_data
    found = articles_of_workspace(
        workspace=workspace, search=values.get("q") or "", source_id=values.get("source")
    )
    page = Paginator(found, ARTICLES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return _render_page_or_region(
        request,
        page="knowledge/articles.html",
        region="knowledge/_article_results.html",
        context=_context(membership, form=form, page=page, filter_query=query.urlencode()),
    )


@workspace_member_required()
def article(request: HttpRequest, membership: Membership, article_id: int) -> HttpResponse:
    found = article_of_workspace(workspace=membership.workspace, article_id=article_id)
    if found is None:
        raise Http404("No such article.")
    return render(
        request,
        "knowledge/article.html",
        _context(membership, article=found, chunks=chunks_of_article(article=found)),
    )


# --- search playground ---------------------------------------------------------------------


@workspace_member_required()
def search(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = SearchPlaygroundForm(request.GET)
    result = None
    result_language_name = ""
    if form.is_valid() and form.cleaned_data["q"]:
        result = knowledge_search(
            workspace_id=membership.workspace_id,
            query=form.cleaned_data["q"],
            language=form.cleaned_data["language"] or None,
        )
        result_language_name = LANGUAGE_NAMES.get(result.language, result.language)
    return _render_page_or_region(
        request,
        page="knowledge/search.html",
        region="knowledge/_search_results.html",
        context=_context(
            membership, form=form, result=result, result_language_name=result_language_name
        ),
    )
