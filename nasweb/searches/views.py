"""REST API views (thin: validate with a serializer, act through ``handlers``, serialise).

Ownership: every queryset is filtered by the requesting user, so another user's project,
search, candidate or upload is a 404, never a 403 that would confirm it exists.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model, login, logout
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import datasets, handlers
from .models import (
    METRIC_COLUMNS,
    OBJECTIVE_COLUMNS,
    PRECHECK_COLUMNS,
    Artifact,
    ArtifactKind,
    Candidate,
    Project,
    Search,
    SearchState,
    UploadedDataset,
)
from .presets import presets
from .serializers import (
    CandidateDetailSerializer,
    CandidatePageSerializer,
    CandidateQuerySerializer,
    CandidateSerializer,
    CredentialsSerializer,
    DatasetListSerializer,
    EventQuerySerializer,
    FinaliseResultSerializer,
    FinaliseSerializer,
    McuPresetSerializer,
    MeSerializer,
    ProjectSerializer,
    SearchCreateSerializer,
    SearchEventSerializer,
    SearchSerializer,
    SearchUpdateSerializer,
    SignupSerializer,
    TimelineSerializer,
    TokenSerializer,
    UploadCreateSerializer,
    UploadedDatasetSerializer,
    UsageExampleSerializer,
)

ID = r"[0-9]{1,18}"
ORDERABLE = {"index", "state", "sparsity", "attempts", "seq", "pareto", "feasible",
             *METRIC_COLUMNS, *OBJECTIVE_COLUMNS, *PRECHECK_COLUMNS}
ORDER_TERM = re.compile(r"^(-?)([a-z][a-z0-9_]{0,63})$")
MAX_ORDER_TERMS = 5
DEFAULT_AFTER_LIMIT = 500


def _user_json(user: Any) -> dict[str, Any]:
    return {"id": user.pk, "username": user.get_username(), "email": user.email or ""}


# -- projects -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Your projects"),
    create=extend_schema(summary="Create a project"),
    retrieve=extend_schema(summary="One project"),
    partial_update=extend_schema(summary="Change a project"),
    update=extend_schema(summary="Replace a project"),
    destroy=extend_schema(summary="Delete a project with its searches"),
)
class ProjectViewSet(viewsets.ModelViewSet):
    serializer_class = ProjectSerializer
    lookup_value_regex = ID

    def get_queryset(self) -> QuerySet[Project]:
        return Project.objects.filter(owner=self.request.user).order_by("-created_at", "-id")

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.instance = handlers.create_project(self.request.user,
                                                      **serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        serializer.instance = handlers.update_project(serializer.instance,
                                                      **serializer.validated_data)

    def perform_destroy(self, instance: Project) -> None:
        handlers.delete_project(instance)


# -- searches -------------------------------------------------------------------------------


class SearchListQuery(serializers.Serializer):
    project = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    state = serializers.ChoiceField(choices=SearchState.values, required=False)


class StateChangeSerializer(serializers.Serializer):
    """Pause, resume and cancel take no body."""


class ParetoSerializer(serializers.Serializer):
    front = CandidateSerializer(many=True)
    hypervolume = serializers.FloatField()
    history = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()),
                                    help_text="[evaluated, hypervolume] after each evaluation")


class EventPageSerializer(serializers.Serializer):
    cursor = serializers.IntegerField()
    more = serializers.BooleanField()
    results = SearchEventSerializer(many=True)


def owned_searches(user: Any) -> QuerySet[Search]:
    return Search.objects.filter(project__owner=user)


@extend_schema_view(
    list=extend_schema(summary="Your searches", parameters=[SearchListQuery]),
    retrieve=extend_schema(summary="One search with its progress"),
    destroy=extend_schema(summary="Delete a search (its running candidates are stopped)"),
)
class SearchViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                    viewsets.GenericViewSet):
    serializer_class = SearchSerializer
    lookup_value_regex = ID
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Search]:
        queryset = owned_searches(self.request.user).order_by("-created_at", "-id")
        if self.action == "list":
            query = SearchListQuery(data=self.request.query_params)
            query.is_valid(raise_exception=True)
            if "project" in query.validated_data:
                queryset = queryset.filter(project_id=query.validated_data["project"])
            if "state" in query.validated_data:
                queryset = queryset.filter(state=query.validated_data["state"])
        return queryset

    @extend_schema(summary="Create (and start) a search", request=SearchCreateSerializer,
                   responses={201: SearchSerializer})
    def create(self, request: Request) -> Response:
        serializer = SearchCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        project = fields.pop("project")
        search = handlers.create_search(project, **fields)
        data = dict(SearchSerializer(search).data)
        data["warnings"] = serializer.warnings  # field -> messages; limits no MCU has
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change name, description or in-flight target",
                   request=SearchUpdateSerializer, responses={200: SearchSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        search = self.get_object()
        serializer = SearchUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        search = handlers.update_search(search, **serializer.validated_data)
        return Response(SearchSerializer(search).data)

    def perform_destroy(self, instance: Search) -> None:
        handlers.delete_search(instance)

    def _state_change(self, change: Any) -> Response:
        search = change(self.get_object())
        return Response(SearchSerializer(search).data)

    @extend_schema(summary="Pause: propose nothing more; running candidates finish",
                   request=None, responses={200: SearchSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return self._state_change(handlers.pause_search)

    @extend_schema(summary="Resume a paused search", request=None,
                   responses={200: SearchSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._state_change(handlers.resume_search)

    @extend_schema(summary="Cancel: queued and running candidates are cancelled at once",
                   request=None, responses={200: SearchSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._state_change(handlers.cancel_search)

    @extend_schema(summary="Final training: retrain candidates with the full (paper) profile",
                   description="Body: {\"candidates\": [indices]}, {\"top\": N} for the N "
                   "most accurate of the feasible Pareto front not finalised yet, or nothing "
                   "for all of it. Only when the search is not running "
                   "(paused, finished, cancelled or failed). Each candidate's new figures and "
                   "files replace the screening ones, which stay under metrics.screening.",
                   request=FinaliseSerializer, responses={202: FinaliseResultSerializer})
    @action(detail=True, methods=["post"])
    def finalise(self, request: Request, pk: str | None = None) -> Response:
        search = self.get_object()
        body = FinaliseSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        queued = handlers.request_finalise(search, body.validated_data.get("candidates"),
                                           top=body.validated_data.get("top"))
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="The Pareto front and the hypervolume history",
                   responses={200: ParetoSerializer})
    @action(detail=True, methods=["get"])
    def pareto(self, request: Request, pk: str | None = None) -> Response:
        search = self.get_object()
        front = (search.candidates.filter(pareto=True).defer("timeline", "architecture")
                 .order_by(F("error").asc(nulls_last=True), "index"))
        history = (search.engine_state or {}).get("hypervolume", [])
        return Response({"front": CandidateSerializer(front, many=True).data,
                         "hypervolume": search.hypervolume, "history": history})

    @extend_schema(summary="Stored events after a cursor (what the websocket sends)",
                   parameters=[EventQuerySerializer], responses={200: EventPageSerializer})
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str | None = None) -> Response:
        search = self.get_object()
        query = EventQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after, limit = query.validated_data["after"], query.validated_data["limit"]
        rows = list(search.events.filter(id__gt=after).order_by("id")[:limit])
        return Response({"cursor": rows[-1].id if rows else after, "more": len(rows) == limit,
                         "results": SearchEventSerializer(rows, many=True).data})


# -- candidates -----------------------------------------------------------------------------


def order_terms(text: str) -> list[Any]:
    """``-val_accuracy,tflm_arena_bytes`` -> order expressions (nulls last, index last)."""
    terms = [t.strip() for t in text.split(",") if t.strip()]
    if not terms or len(terms) > MAX_ORDER_TERMS:
        raise serializers.ValidationError(
            {"ordering": [f"give 1 to {MAX_ORDER_TERMS} comma-separated names"]})
    expressions = []
    for term in terms:
        match = ORDER_TERM.match(term)
        if match is None:
            raise serializers.ValidationError(
                {"ordering": [f"{term[:40]!r}: expected a name like val_accuracy or "
                              "-tflm_arena_bytes"]})
        descending, name = match.group(1) == "-", match.group(2)
        expression = F(name) if name in ORDERABLE else F(f"metrics__{name}")
        expressions.append(expression.desc(nulls_last=True) if descending
                           else expression.asc(nulls_last=True))
    expressions.append(F("index").asc())
    return expressions


class SearchChildView(APIView):
    """Base for views under ``/api/searches/<search_pk>/``."""

    def get_search(self) -> Search:
        return get_object_or_404(owned_searches(self.request.user), pk=self.kwargs["search_pk"])

    def get_candidate(self, search: Search) -> Candidate:
        return get_object_or_404(search.candidates.all(), index=self.kwargs["index"])


class CandidateListView(SearchChildView):
    @extend_schema(summary="A search's candidates: filter, order, read incrementally",
                   operation_id="searches_candidates_list",
                   parameters=[CandidateQuerySerializer],
                   responses={200: CandidatePageSerializer})
    def get(self, request: Request, search_pk: int) -> Response:
        search = self.get_search()
        query = CandidateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        cursor = search.last_event_id  # read before the rows: nothing later is skipped
        rows = search.candidates.defer("timeline", "architecture")
        if "state" in params:
            rows = rows.filter(state__in=params["state"])
        if "pareto" in params:
            rows = rows.filter(pareto=params["pareto"])
        if "feasible" in params:
            rows = rows.filter(feasible=params["feasible"])
        if "after" in params:
            return self._after(rows, params["after"], params.get("limit", DEFAULT_AFTER_LIMIT),
                               cursor)
        rows = rows.order_by(*order_terms(params.get("ordering", "index")))
        paginator = self.paginator
        page = paginator.paginate_queryset(rows, request, view=self)
        return Response({"count": paginator.page.paginator.count,
                         "next": paginator.get_next_link(),
                         "previous": paginator.get_previous_link(), "cursor": cursor,
                         "more": False, "results": CandidateSerializer(page, many=True).data})

    @property
    def paginator(self) -> Any:
        if not hasattr(self, "_paginator"):
            from .pagination import PagePagination

            self._paginator = PagePagination()
        return self._paginator

    def _after(self, rows: QuerySet[Candidate], after: int, limit: int,
               cursor: int) -> Response:
        found = list(rows.filter(seq__gt=after).order_by("seq", "index")[:limit])
        more = False
        if len(found) == limit:  # never split the rows one event changed
            last = found[-1]
            found += list(rows.filter(seq=last.seq, index__gt=last.index).order_by("index"))
            more = rows.filter(seq__gt=last.seq).exists()
            cursor = last.seq if more else max(cursor, last.seq)
        elif found:
            cursor = max(cursor, found[-1].seq)
        else:
            cursor = max(cursor, after)
        return Response({"count": len(found), "next": None, "previous": None,
                         "cursor": cursor, "more": more,
                         "results": CandidateSerializer(found, many=True).data})


class CandidateDetailView(SearchChildView):
    @extend_schema(summary="One candidate: architecture, metrics, estimates, artifacts",
                   responses={200: CandidateDetailSerializer})
    def get(self, request: Request, search_pk: int, index: int) -> Response:
        candidate = self.get_candidate(self.get_search())
        return Response(CandidateDetailSerializer(candidate).data)


class CandidateTimelineView(SearchChildView):
    @extend_schema(summary="A candidate's memory timeline (working set at every step)",
                   responses={200: TimelineSerializer})
    def get(self, request: Request, search_pk: int, index: int) -> Response:
        candidate = self.get_candidate(self.get_search())
        return Response({"index": candidate.index, "state": candidate.state,
                         "timeline": candidate.timeline,
                         "op_order": candidate.metrics.get("op_order"),
                         "peak_memory_bytes": candidate.peak_memory_bytes,
                         "tflm_arena_bytes": candidate.tflm_arena_bytes,
                         "predicted_sram_bytes": candidate.predicted_sram_bytes})


class AnyContent(BaseContentNegotiation):
    """Files are what they are, whatever the client's Accept header says."""

    def select_parser(self, request: Any, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Any, renderers: list[Any],
                        format_suffix: str | None = None) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type


ARTIFACT_FILES = {ArtifactKind.TFLITE: (".tflite", "application/octet-stream"),
                  ArtifactKind.HEADER: (".h", "text/x-c; charset=utf-8")}


class ArtifactDownloadView(SearchChildView):
    content_negotiation_class = AnyContent

    @extend_schema(
        summary="Download a candidate's .tflite model or C header",
        parameters=[OpenApiParameter("kind", str, OpenApiParameter.PATH,
                                     enum=list(ArtifactKind.values))],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                   (200, "text/x-c"): OpenApiTypes.BINARY,
                   404: OpenApiResponse(description="no such search, candidate or file")})
    def get(self, request: Request, search_pk: int, index: int, kind: str) -> HttpResponse:
        search = self.get_search()
        candidate = self.get_candidate(search)
        artifact = get_object_or_404(Artifact.objects.filter(candidate=candidate), kind=kind)
        suffix, content_type = ARTIFACT_FILES[kind]
        stem = slugify(search.name)[:40] or "search"
        filename = f"{stem}-s{search.pk}-c{candidate.index}{suffix}"
        response = HttpResponse(bytes(artifact.content), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Content-Length"] = str(artifact.size)
        return response


INCLUDE = re.compile(r'^#include "([^"/\\]+\.h)"$', re.M)


class CandidateUsageExampleView(SearchChildView):
    @extend_schema(
        summary="The C header's usage example: a whole C++ file for a TFLM sketch",
        description="The example in the downloaded header's top comment (setup with exactly "
                    "the model's operators and the measured arena, then classify), as the "
                    "header has it; `header_name` is the name it includes the header by.",
        responses={200: UsageExampleSerializer,
                   404: OpenApiResponse(description="no such candidate, no header (not "
                                                    "exported yet), or no example in it")})
    def get(self, request: Request, search_pk: int, index: int) -> Response:
        from search_engine.export.header import HeaderError, extract_usage_example

        candidate = self.get_candidate(self.get_search())
        artifact = get_object_or_404(Artifact.objects.filter(candidate=candidate),
                                     kind=ArtifactKind.HEADER)
        try:
            example = extract_usage_example(bytes(artifact.content).decode("utf-8", "replace"))
        except HeaderError as exc:
            raise NotFound(str(exc)) from None
        include = INCLUDE.search(example)
        return Response({"index": candidate.index, "example": example,
                         "header_name": include.group(1) if include else None})


# -- data sets and presets ------------------------------------------------------------------


class DatasetListView(APIView):
    @extend_schema(summary="Data sets: the server's and your uploads",
                   responses={200: DatasetListSerializer})
    def get(self, request: Request) -> Response:
        uploads = UploadedDataset.objects.filter(owner=request.user)
        return Response({"server": datasets.dataset_listing(),
                         "uploads": UploadedDatasetSerializer(uploads, many=True).data,
                         "quota": datasets.quota_status(request.user)})


@extend_schema_view(
    list=extend_schema(summary="Your uploaded data sets"),
    retrieve=extend_schema(summary="One uploaded data set"),
    destroy=extend_schema(summary="Delete an upload (refused while a search uses it)"),
)
class UploadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                    viewsets.GenericViewSet):
    serializer_class = UploadedDatasetSerializer
    lookup_value_regex = ID

    def get_queryset(self) -> QuerySet[UploadedDataset]:
        return UploadedDataset.objects.filter(owner=self.request.user)

    def get_parsers(self) -> list[Any]:
        request = getattr(self, "request", None)
        if getattr(self, "action", None) == "create" or getattr(request, "method", "") == "POST":
            return [MultiPartParser(), FormParser()]
        return super().get_parsers()

    @extend_schema(summary="Upload a data set (.npz arrays or a zip of class folders)",
                   request={"multipart/form-data": UploadCreateSerializer},
                   responses={201: UploadedDatasetSerializer})
    def create(self, request: Request) -> Response:
        length = request.META.get("CONTENT_LENGTH") or "0"
        from django.conf import settings

        if length.isdigit() and int(length) > settings.UNAS_UPLOAD_MAX_BYTES + 64 * 1024:
            return Response({"file": [f"the upload is larger than the limit "
                                      f"{settings.UNAS_UPLOAD_MAX_BYTES} bytes"]},
                            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        serializer = UploadCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        row = datasets.store_upload(request.user, data["name"], data["file"], data.get("kind"),
                                    (data["image_height"], data["image_width"]),
                                    data["color_mode"])
        return Response(UploadedDatasetSerializer(row).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: UploadedDataset) -> None:
        datasets.delete_upload(instance)


class McuPresetView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(summary="Common boards with their SRAM and Flash (vendor datasheets)",
                   responses={200: McuPresetSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(presets())


# -- accounts -------------------------------------------------------------------------------


class SignupView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(summary="Create an account; answers with an API token",
                   request=SignupSerializer, responses={201: TokenSerializer})
    def post(self, request: Request) -> Response:
        from django.conf import settings

        if not settings.UNAS_SIGNUP_OPEN:
            return Response({"detail": "sign-up is closed on this server"},
                            status=status.HTTP_403_FORBIDDEN)
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():
            user = get_user_model().objects.create_user(
                username=data["username"], password=data["password"],
                email=data.get("email", ""))
            token = Token.objects.create(user=user)
        return Response({"token": token.key, "user": _user_json(user)},
                        status=status.HTTP_201_CREATED)


class TokenView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(summary="Get your API token (send it as 'Authorization: Token <key>')",
                   request=CredentialsSerializer, responses={200: TokenSerializer})
    def post(self, request: Request) -> Response:
        serializer = CredentialsSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key, "user": _user_json(user)})


@method_decorator(csrf_protect, name="dispatch")
class LoginView(APIView):
    """Session log-in for the browser (CSRF-protected: send the csrftoken cookie's value as
    the X-CSRFToken header; ``GET /api/auth/me/`` sets the cookie)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(summary="Log in (session cookie)", request=CredentialsSerializer,
                   responses={200: MeSerializer})
    def post(self, request: Request) -> Response:
        serializer = CredentialsSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        login(request._request, user)
        return Response({"authenticated": True, "user": _user_json(user)})


class LogoutView(APIView):
    @extend_schema(summary="Log out (session)", request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class MeView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(summary="Who is logged in (also sets the CSRF cookie)",
                   responses={200: MeSerializer})
    def get(self, request: Request) -> Response:
        user = request.user
        if not user.is_authenticated:
            return Response({"authenticated": False, "user": None})
        return Response({"authenticated": True, "user": _user_json(user)})
