"""REST API of support flows, their versions, rules and queues. Thin: validation in services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api_access import api_validation_error, api_workspace, api_workspace_for_change
from console.authentication import ApiKeyClient
from console.models import User, Workspace
from routing import services
from routing.models import FlowVersion, Queue, SupportFlow
from routing.selectors import flow_of_workspace, flows_of_workspace, queues_of_workspace


def _api_error(error: ValidationError) -> ApiValidationError:
    if isinstance(error, services.DraftChangedError):
        return ApiValidationError({"revision": error.messages})
    return api_validation_error(error)


def _flow_or_404(workspace: Workspace, flow_id: int) -> SupportFlow:
    flow = flow_of_workspace(workspace=workspace, flow_id=flow_id)
    if flow is None:
        raise Http404("No such flow.")
    return flow


def _person(request: Request) -> User | None:
    """Who publishes: the signed-in admin; an API key is not a person."""
    return None if isinstance(request.user, ApiKeyClient) else request.user  # type: ignore[return-value]


class FlowOutputSerializer(serializers.ModelSerializer[SupportFlow]):
    published_version = serializers.IntegerField(source="published_version.number", default=None)

    class Meta:
        model = SupportFlow
        fields = ("id", "name", "settings", "rules", "draft_revision", "published_version")


class VersionOutputSerializer(serializers.ModelSerializer[FlowVersion]):
    published_by = serializers.EmailField(source="published_by.email", default=None)

    class Meta:
        model = FlowVersion
        fields = ("number", "note", "published_at", "published_by", "snapshot")


class FlowListApi(APIView):
    @extend_schema(responses=FlowOutputSerializer(many=True), operation_id="flows_list")
    def get(self, request: Request) -> Response:
        flows = flows_of_workspace(workspace=api_workspace(request))
        return Response(FlowOutputSerializer(flows, many=True).data)


class FlowDetailApi(APIView):
    @extend_schema(responses=FlowOutputSerializer, operation_id="flows_retrieve")
    def get(self, request: Request, flow_id: int) -> Response:
        return Response(FlowOutputSerializer(_flow_or_404(api_workspace(request), flow_id)).data)


class FlowDraftApi(APIView):
    """Change the draft: its settings and/or its ordered rules. `revision` is the
    draft_revision the editor loaded; a stale one gets 400 with a `revision` error."""

    class InputSerializer(serializers.Serializer[Any]):
        revision = serializers.IntegerField(min_value=1)
        settings = serializers.DictField(required=False)
        rules = serializers.ListField(child=serializers.DictField(), required=False)

    @extend_schema(
        request=InputSerializer, responses=FlowOutputSerializer, operation_id="flows_draft_update"
    )
    def put(self, request: Request, flow_id: int) -> Response:
        flow = _flow_or_404(api_workspace_for_change(request), flow_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        revision = values["revision"]
        try:
            if "settings" in values:
                flow = services.flow_settings_update(
                    flow=flow, settings=values["settings"], expected_revision=revision
                )
                revision = flow.draft_revision
            if "rules" in values:
                flow = services.flow_rules_update(
                    flow=flow, rules=values["rules"], expected_revision=revision
                )
        except ValidationError as error:
            raise _api_error(error) from None
        return Response(FlowOutputSerializer(flow).data)


class FlowPublishApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        note = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(
        request=InputSerializer,
        responses={201: VersionOutputSerializer},
        operation_id="flows_publish",
    )
    def post(self, request: Request, flow_id: int) -> Response:
        flow = _flow_or_404(api_workspace_for_change(request), flow_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = services.flow_publish(
                flow=flow, published_by=_person(request), note=data.validated_data.get("note", "")
            )
        except ValidationError as error:
            raise _api_error(error) from None
        return Response(VersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class FlowVersionListApi(APIView):
    @extend_schema(responses=VersionOutputSerializer(many=True), operation_id="flows_versions")
    def get(self, request: Request, flow_id: int) -> Response:
        flow = _flow_or_404(api_workspace(request), flow_id)
        versions = flow.versions.select_related("published_by").order_by("-number")
        return Response(VersionOutputSerializer(versions, many=True).data)


class FlowRollbackApi(APIView):
    @extend_schema(
        request=None, responses={201: VersionOutputSerializer}, operation_id="flows_rollback"
    )
    def post(self, request: Request, flow_id: int, number: int) -> Response:
        flow = _flow_or_404(api_workspace_for_change(request), flow_id)
        version = flow.versions.filter(number=number).first()
        if version is None:
            raise Http404("No such version.")
        version = services.flow_rollback(flow=flow, version=version, published_by=_person(request))
        return Response(VersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class QueueSerializer(serializers.ModelSerializer[Queue]):
    class Meta:
        model = Queue
        fields = ("id", "name", "tier", "sla_wait_minutes")


class QueueListCreateApi(APIView):
    @extend_schema(responses=QueueSerializer(many=True), operation_id="queues_list")
    def get(self, request: Request) -> Response:
        return Response(
            QueueSerializer(queues_of_workspace(workspace=api_workspace(request)), many=True).data
        )

    @extend_schema(
        request=QueueSerializer, responses={201: QueueSerializer}, operation_id="queues_create"
    )
    def post(self, request: Request) -> Response:
        workspace = api_workspace_for_change(request)
        data = QueueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            queue = services.queue_save(workspace=workspace, **_queue_fields(data.validated_data))
        except ValidationError as error:
            raise _api_error(error) from None
        return Response(QueueSerializer(queue).data, status=status.HTTP_201_CREATED)


class QueueDetailApi(APIView):
    @extend_schema(request=QueueSerializer, responses=QueueSerializer, operation_id="queues_update")
    def put(self, request: Request, queue_id: int) -> Response:
        workspace = api_workspace_for_change(request)
        queue = _queue_or_404(workspace, queue_id)
        data = QueueSerializer(queue, data=request.data)
        data.is_valid(raise_exception=True)
        try:
            queue = services.queue_save(
                workspace=workspace, queue=queue, **_queue_fields(data.validated_data)
            )
        except ValidationError as error:
            raise _api_error(error) from None
        return Response(QueueSerializer(queue).data)

    @extend_schema(responses={204: None}, operation_id="queues_destroy")
    def delete(self, request: Request, queue_id: int) -> Response:
        queue = _queue_or_404(api_workspace_for_change(request), queue_id)
        try:
            services.queue_delete(queue=queue)
        except ValidationError as error:
            raise _api_error(error) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


def _queue_or_404(workspace: Workspace, queue_id: int) -> Queue:
    queue = queues_of_workspace(workspace=workspace).filter(pk=queue_id).first()
    if queue is None:
        raise Http404("No such queue.")
    return queue


def _queue_fields(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": values["name"],
        "tier": values.get("tier", 1),
        "sla_wait_minutes": values.get("sla_wait_minutes", 10),
    }
