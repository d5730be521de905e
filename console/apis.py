from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api_access import api_validation_error, api_workspace, api_workspace_for_change
from console.models import User
from conversations.models import ChatWidgetSettings
from conversations.widget import (
    ALLOWED_ORIGINS_MAX,
    chat_widget_origins_update,
    chat_widget_settings_of_workspace,
)


class WorkspaceDetailApi(APIView):
    """The workspace this request acts on (an API key's own workspace)."""

    class OutputSerializer(serializers.Serializer[object]):
        slug = serializers.SlugField()
        name = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(responses=OutputSerializer, operation_id="workspace_retrieve")
    def get(self, request: Request) -> Response:
        workspace = api_workspace(request)
        return Response(self.OutputSerializer(workspace).data)


class WorkspaceChatWidgetApi(APIView):
    """The sites that may embed the workspace's chat widget (`conversations.widget` has the
    rules). Every member reads them; API keys and admins replace the whole list."""

    class OutputSerializer(serializers.Serializer[object]):
        allowed_origins = serializers.ListField(child=serializers.CharField())
        updated_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_serializer(component_name="ChatWidgetInput")
    class InputSerializer(serializers.Serializer[object]):
        # Generous: duplicates and blanks are dropped before the limit of origins applies.
        allowed_origins = serializers.ListField(
            child=serializers.CharField(allow_blank=True, trim_whitespace=False),
            max_length=5 * ALLOWED_ORIGINS_MAX,
        )

    @extend_schema(responses=OutputSerializer, operation_id="workspace_chat_widget_retrieve")
    def get(self, request: Request) -> Response:
        workspace = api_workspace(request)
        return Response(self._output(chat_widget_settings_of_workspace(workspace=workspace)))

    @extend_schema(
        request=InputSerializer,
        responses=OutputSerializer,
        operation_id="workspace_chat_widget_update",
    )
    def put(self, request: Request) -> Response:
        workspace = api_workspace_for_change(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        caller = request.user
        try:
            settings = chat_widget_origins_update(
                workspace=workspace,
                origins=data.validated_data["allowed_origins"],
                updated_by=caller if isinstance(caller, User) else None,
            )
        except DjangoValidationError as error:
            raise api_validation_error(error) from None
        return Response(self._output(settings))

    def _output(self, settings: ChatWidgetSettings | None) -> dict[str, Any]:
        values = {
            "allowed_origins": settings.allowed_origins if settings else [],
            "updated_at": settings.updated_at if settings else None,
        }
        return dict(self.OutputSerializer(values).data)
