"""Page views: thin HTML shells that the ES modules in ``static/frontend/js`` fill from the REST
API and the search's websocket (the same interfaces scripts use). Also the candidate analysis
JSON (per-op table and memory timelines, ``frontend.analysis``) and the static file view that
serves ``/static/`` from the Daphne process.

Pages about a search or a candidate answer 404 unless the signed-in user owns it, as the API
does.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET
from django.views.static import serve

from nasweb.searches.models import Candidate, Project, Search

from .analysis import AnalysisError, candidate_analysis
from .defaults import form_defaults

mimetypes.add_type("text/javascript", ".js")  # ES modules need a JavaScript MIME type
mimetypes.add_type("text/css", ".css")


def _page(request: HttpRequest, template: str, page: str, **context: object) -> HttpResponse:
    context["page"] = page
    return render(request, f"frontend/{template}", context)


@ensure_csrf_cookie
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("projects")
    return _page(request, "home.html", "home")


@ensure_csrf_cookie
def signin(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("projects")
    return _page(request, "signin.html", "signin", next=_safe_next(request))


@ensure_csrf_cookie
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("projects")
    return _page(request, "signup.html", "signup", signup_open=settings.UNAS_SIGNUP_OPEN)


def _safe_next(request: HttpRequest) -> str:
    """Where to go after signing in: a local path only (no open redirect)."""
    target = request.GET.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/projects/"


@login_required
@ensure_csrf_cookie
def projects(request: HttpRequest) -> HttpResponse:
    return _page(request, "projects.html", "projects")


@login_required
@ensure_csrf_cookie
def project(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(Project, pk=pk, owner=request.user)
    return _page(request, "project.html", "project", project=row)


@login_required
@ensure_csrf_cookie
def new_search(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(Project, pk=pk, owner=request.user)
    return _page(request, "new_search.html", "new-search", project=row,
                 defaults=form_defaults(row.dataset))


def _owned_search(request: HttpRequest, pk: int) -> Search:
    return get_object_or_404(Search.objects.select_related("project"), pk=pk,
                             project__owner=request.user)


@login_required
@ensure_csrf_cookie
def search(request: HttpRequest, pk: int) -> HttpResponse:
    row = _owned_search(request, pk)
    return _page(request, "search.html", "search", search=row, project=row.project)


@login_required
@ensure_csrf_cookie
def candidate(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    row = _owned_search(request, pk)
    get_object_or_404(Candidate.objects.only("pk"), search=row, index=index)
    return _page(request, "candidate.html", "candidate", search=row, project=row.project,
                 index=index)


@login_required
@ensure_csrf_cookie
def compare(request: HttpRequest, pk: int) -> HttpResponse:
    row = _owned_search(request, pk)
    return _page(request, "compare.html", "compare", search=row, project=row.project)


@require_GET
@never_cache
def candidate_ops(request: HttpRequest, pk: int, index: int) -> JsonResponse:
    """``/ui/api/searches/<pk>/candidates/<index>/ops/``: per-op table and both timelines."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "sign in first"}, status=403)
    row = get_object_or_404(
        Candidate.objects.only("architecture", "sparsity", "search__input_shape",
                               "search__num_classes").select_related("search"),
        search__pk=pk, search__project__owner=request.user, index=index)
    try:
        data = candidate_analysis(row.architecture, row.sparsity, row.search.input_shape,
                                  row.search.num_classes)
    except AnalysisError as exc:
        return JsonResponse({"detail": str(exc)}, status=422)
    return JsonResponse(data)


def static_file(request: HttpRequest, path: str) -> HttpResponse:
    """``/static/<path>`` from the Daphne process: collected files under ``STATIC_ROOT`` when
    present (production, after ``collectstatic``), else the apps' files via the staticfiles
    finders (local runs). Daphne does not serve static files by itself."""
    if ".." in Path(path).parts or path.startswith("/"):
        raise Http404("no such file")
    root = Path(settings.STATIC_ROOT)
    if (root / path).is_file():
        response = serve(request, path, document_root=str(root))
    else:
        found = finders.find(path)
        if not found:
            raise Http404("no such file")
        found_path = Path(found)
        response = serve(request, found_path.name, document_root=str(found_path.parent))
    # revalidate app files (they change during development); plotly changes with the package
    response["Cache-Control"] = ("public, max-age=86400" if path.startswith("plotly/")
                                 else "no-cache")
    response["X-Content-Type-Options"] = "nosniff"
    return response
