"""REST API of the knowledge base: sources, articles and search. One view per resource, thin."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api_access import api_validation_error, api_workspace, api_workspace_for_change
from knowledge import services
from knowledge.models import Article, Source, SourceKind
from knowledge.selectors import articles_of_workspace, knowledge_search, sources_of_workspace


class SourceOutputSerializer(serializers.ModelSerializer[Source]):
    articles = serializers.IntegerField(source="articles.count", read_only=True)

    class Meta:
        model = Source
        fields = (
            "id",
            "kind",
            "name",
            "settings",
            "status",
            "processed",
            "total",
            "last_synced_at",
            "last_error",
            "file_errors",
            "articles",
            "created_at",
        )


class SourceListCreateApi(APIView):
    """List the workspace's sources; create one (a website as JSON, or a file as multipart)."""

    parser_classes = (JSONParser, MultiPartParser, FormParser)

    class InputSerializer(serializers.Serializer[Any]):
        kind = serializers.ChoiceField(
            choices=[k for k in SourceKind.values if k != SourceKind.FOLDER]
        )
        name = serializers.CharField(max_length=120)
        file = serializers.FileField(required=False)
        start_url = serializers.CharField(required=False, max_length=2000)
        max_pages = serializers.IntegerField(required=False, min_value=1, max_value=5000)
        sync = serializers.BooleanField(default=True)

    @extend_schema(responses=SourceOutputSerializer(many=True), operation_id="sources_list")
    def get(self, request: Request) -> Response:
        sources = sources_of_workspace(workspace=api_workspace(request))
        return Response(SourceOutputSerializer(sources, many=True).data)

    @extend_schema(
        request={"multipart/form-data": InputSerializer, "application/json": InputSerializer},
        responses={201: SourceOutputSerializer},
        operation_id="sources_create",
    )
    def post(self, request: Request) -> Response:
        workspace = api_workspace_for_change(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            if values["kind"] == SourceKind.WEBSITE:
                source = services.source_create(
                    workspace=workspace,
                    kind=SourceKind.WEBSITE,
                    name=values["name"],
                    settings_={
                        "start_url": values.get("start_url"),
                        "max_pages": values.get("max_pages"),
                    },
                )
            else:
                if "file" not in values:
                    raise ValidationError({"file": "Send the file as multipart form data."})
                source = services.source_upload_store(
                    workspace=workspace,
                    kind=values["kind"],
                    name=values["name"],
                    upload=values["file"],
                    must_be_new=True,
                )
        except ValidationError as error:
            raise api_validation_error(error) from None
        if values["sync"]:
            source = services.source_sync_request(source=source)
        source.refresh_from_db()
        return Response(SourceOutputSerializer(source).data, status=status.HTTP_201_CREATED)


class SourceDetailApi(APIView):
    @extend_schema(responses=SourceOutputSerializer, operation_id="sources_retrieve")
    def get(self, request: Request, source_id: int) -> Response:
        source = get_object_or_404(
            sources_of_workspace(workspace=api_workspace(request)), pk=source_id
        )
        return Response(SourceOutputSerializer(source).data)

    @extend_schema(responses={204: None}, operation_id="sources_destroy")
    def delete(self, request: Request, source_id: int) -> Response:
        workspace = api_workspace_for_change(request)
        source = get_object_or_404(sources_of_workspace(workspace=workspace), pk=source_id)
        services.source_delete(source=source)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SourceUploadApi(APIView):
    """Upload a new version of a source's file; it is synced (unchanged articles are skipped)."""

    parser_classes = (MultiPartParser,)

    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField()

    @extend_schema(
        request={"multipart/form-data": InputSerializer},
        responses=SourceOutputSerializer,
        operation_id="sources_upload",
    )
    def post(self, request: Request, source_id: int) -> Response:
        workspace = api_workspace_for_change(request)
        source = get_object_or_404(sources_of_workspace(workspace=workspace), pk=source_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            source = services.source_upload_store(
                workspace=workspace,
                kind=source.kind,
                name=source.name,
                upload=data.validated_data["file"],
            )
        except ValidationError as error:
            raise api_validation_error(error) from None
        source = services.source_sync_request(source=source)
        source.refresh_from_db()
        return Response(SourceOutputSerializer(source).data)


class SourceSyncApi(APIView):
    @extend_schema(
        request=None, responses={202: SourceOutputSerializer}, operation_id="sources_sync"
    )
    def post(self, request: Request, source_id: int) -> Response:
        workspace = api_workspace_for_change(request)
        source = get_object_or_404(sources_of_workspace(workspace=workspace), pk=source_id)
        source = services.source_sync_request(source=source)
        source.refresh_from_db()
        return Response(SourceOutputSerializer(source).data, status=status.HTTP_202_ACCEPTED)


class ArticleOutputSerializer(serializers.ModelSerializer[Article]):
    source_name = serializers.CharField(source="source.name")

    class Meta:
        model = Article
        fields: tuple[str, ...] = (
            "id",
            "source_name",
            "external_id",
            "title",
            "url",
            "locale",
            "version",
            "updated_at",
        )


class ArticleDetailOutputSerializer(ArticleOutputSerializer):
    class Meta(ArticleOutputSerializer.Meta):
        fields = (*ArticleOutputSerializer.Meta.fields, "content")


class ArticleListApi(APIView):
    class Pagination(LimitOffsetPagination):
        default_limit = 50
        max_limit = 200

    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="Part of the title or external id"),
            OpenApiParameter("source", int, description="Only this source's articles"),
        ],
        responses=ArticleOutputSerializer(many=True),
        operation_id="articles_list",
    )
    def get(self, request: Request) -> Response:
        source = request.query_params.get("source")
        if source is not None and not source.isdigit():
            raise ApiValidationError({"source": "A source id is a whole number."})
        articles = articles_of_workspace(
            workspace=api_workspace(request),
            search=request.query_params.get("search", "")[:200],
            source_id=int(source) if source else None,
        )
        paginator = self.Pagination()
        page = paginator.paginate_queryset(articles, request, view=self)
        return paginator.get_paginated_response(ArticleOutputSerializer(page, many=True).data)


class ArticleDetailApi(APIView):
    @extend_schema(responses=ArticleDetailOutputSerializer, operation_id="articles_retrieve")
    def get(self, request: Request, article_id: int) -> Response:
        article = get_object_or_404(
            Article.objects.filter(workspace=api_workspace(request)).select_related("source"),
            pk=article_id,
        )
        return Response(ArticleDetailOutputSerializer(article).data)


class SearchApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        q = serializers.CharField(max_length=2000)
        k = serializers.IntegerField(default=5, min_value=1, max_value=50)
        language = serializers.RegexField(r"^[a-zA-Z]{2}([-_][a-zA-Z]{2,4})?$", required=False)
        only_language = serializers.BooleanField(default=False)

    class HitSerializer(serializers.Serializer[Any]):
        external_id = serializers.CharField()
        title = serializers.CharField()
        url = serializers.CharField()
        heading_path = serializers.CharField()
        locale = serializers.CharField()
        text = serializers.CharField()
        score = serializers.FloatField()
        similarity = serializers.FloatField(allow_null=True)
        found_by = serializers.DictField()

    class OutputSerializer(serializers.Serializer[Any]):
        query = serializers.CharField()
        language = serializers.CharField()
        took_ms = serializers.FloatField()
        results = serializers.ListField(child=serializers.DictField())

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer, operation_id="search")
    def get(self, request: Request) -> Response:
        workspace = api_workspace(request)
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        result = knowledge_search(
            workspace_id=workspace.pk,
            query=values["q"],
            k=values["k"],
            language=values.get("language"),
            only_language=values["only_language"],
        )
        return Response(
            {
                "query": result.query,
                "language": result.language,
                "took_ms": round(result.took_ms, 1),
                "results": self.HitSerializer(result.hits, many=True).data,
            }
        )
