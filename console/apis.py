from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api_access import api_workspace


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
