"""REST API of support flows, their versions, rules and queues, the simulator, the stored
decision traces, and the AI actions catalogue with its approval policies. Thin: validation in
services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.access import ADMINS_AND_AGENTS
from console.api_access import (
    api_validation_error,
    api_workspace,
    api_workspace_for_change,
    api_workspace_for_roles,
)
from console.authentication import ApiKeyClient
from console.models import User, Workspace
from routing import actions, services
from routing.flow_settings import SUPPORTED_LANGUAGES
from routing.models import (
    Action,
    ActionApprovalPolicy,
    ActionPolicy,
    ActionRisk,
    ActionWebhookSecret,
    DecisionTrace,
    FlowVersion,
    Queue,
    SupportFlow,
)
from routing.pipeline import MessageContext
from routing.selectors import (
    action_approval_policies_of_workspace,
    action_of_workspace,
    actions_of_workspace,
    decision_trace_of_workspace,
    decision_traces_of_workspace,
    flow_of_workspace,
    flows_of_workspace,
    queues_of_workspace,
)

TRACES_LISTED = 50


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

    @extend_schema_serializer(component_name="FlowDraftInput")
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
                    flow=flow,
                    settings=values["settings"],
                    expected_revision=revision,
                    by=_person(request),
                )
                revision = flow.draft_revision
            if "rules" in values:
                flow = services.flow_rules_update(
                    flow=flow,
                    rules=values["rules"],
                    expected_revision=revision,
                    by=_person(request),
                )
        except ValidationError as error:
            raise _api_error(error) from None
        return Response(FlowOutputSerializer(flow).data)


class FlowPublishApi(APIView):
    @extend_schema_serializer(component_name="FlowPublishInput")
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


class StrictCharField(serializers.CharField):
    """A text field that refuses numbers and booleans instead of turning them into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class AttributeValuesField(serializers.DictField):
    """Customer attributes: names to plain values (text, numbers, true/false)."""

    child = serializers.JSONField()

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        values = super().to_internal_value(data)
        if len(values) > 50:
            raise serializers.ValidationError("At most 50 attributes.")
        for name, value in values.items():
            if not isinstance(value, str | int | float | bool) or len(str(value)) > 200:
                raise serializers.ValidationError(
                    f"The attribute {name!r} must be a text of at most 200 characters, "
                    "a number or true/false."
                )
        return values


class CustomerSerializer(serializers.Serializer[Any]):
    name = StrictCharField(
        max_length=services.CUSTOMER_NAME_MAX_LENGTH, required=False, allow_blank=True
    )
    plan = StrictCharField(
        max_length=services.CUSTOMER_PLAN_MAX_LENGTH, required=False, allow_blank=True
    )
    attributes = AttributeValuesField(required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {unknown[0]: ["Unknown customer field: use name, plan and attributes."]}
                )
        return super().to_internal_value(data)


class FlowSimulateInputSerializer(serializers.Serializer[Any]):
    message = StrictCharField(max_length=services.SIMULATE_MESSAGE_MAX_LENGTH)
    history = serializers.ListField(
        child=StrictCharField(max_length=services.SIMULATE_MESSAGE_MAX_LENGTH),
        max_length=services.SIMULATE_HISTORY_MAX_MESSAGES,
        required=False,
        help_text="The customer's earlier messages in the conversation, oldest first.",
    )
    customer = CustomerSerializer(required=False)
    previous_language = serializers.ChoiceField(
        choices=SUPPORTED_LANGUAGES,
        required=False,
        allow_null=True,
        help_text="The conversation's language so far, if any.",
    )


class CitationSerializer(serializers.Serializer[Any]):
    external_id = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField()


class FlowSimulateOutputSerializer(serializers.Serializer[Any]):
    outcome = serializers.CharField(help_text="answer, handoff or reply (a rule's reply).")
    reply = serializers.CharField()
    language = serializers.CharField()
    reason = serializers.CharField(
        help_text="Handoffs: low_confidence, sentiment, human_request, rule or ai_turns."
    )
    priority = serializers.CharField()
    queue = serializers.CharField()
    citations = CitationSerializer(many=True)
    trace = serializers.DictField(
        help_text="Every stage's output (stages), its time (timings_ms), the facts the rules "
        'saw, and flow_version ("draft").'
    )
    trace_id = serializers.IntegerField()
    draft_revision = serializers.IntegerField()


class FlowSimulateApi(APIView):
    """Run a customer message through the flow's draft (not the published version) and see
    what the AI would do, and why. Admins, agents and API keys; the trace is stored."""

    @extend_schema(
        request=FlowSimulateInputSerializer,
        responses=FlowSimulateOutputSerializer,
        operation_id="flows_simulate",
    )
    def post(self, request: Request, flow_id: int) -> Response:
        workspace = api_workspace_for_roles(
            request, roles=ADMINS_AND_AGENTS, doing="simulate its flows"
        )
        flow = _flow_or_404(workspace, flow_id)
        data = FlowSimulateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        context = MessageContext(
            history=values.get("history", []),
            previous_language=values.get("previous_language"),
            customer=values.get("customer", {}),
        )
        try:
            decision, record = services.flow_simulate(
                flow=flow, message=values["message"], context=context
            )
        except ValidationError as error:
            raise _api_error(error) from None
        output = {
            "outcome": decision.outcome,
            "reply": decision.reply,
            "language": decision.language,
            "reason": decision.reason,
            "priority": decision.priority,
            "queue": decision.queue,
            "citations": decision.citations,
            "trace": decision.trace,
            "trace_id": record.pk,
            "draft_revision": record.draft_revision,
        }
        return Response(FlowSimulateOutputSerializer(output).data)


TRACE_SUMMARY_FIELDS: tuple[str, ...] = (
    "id",
    "source",
    "flow",
    "flow_name",
    "flow_version",
    "draft_revision",
    "message",
    "outcome",
    "reason",
    "language",
    "created_at",
)


class DecisionTraceSummarySerializer(serializers.ModelSerializer[DecisionTrace]):
    flow_name = serializers.CharField(source="flow.name")
    flow_version = serializers.IntegerField(
        source="flow_version.number",
        default=None,
        help_text="The published version that decided; null for a simulation of the draft.",
    )

    class Meta:
        model = DecisionTrace
        fields = TRACE_SUMMARY_FIELDS


class DecisionTraceDetailSerializer(DecisionTraceSummarySerializer):
    class Meta(DecisionTraceSummarySerializer.Meta):
        fields = (*TRACE_SUMMARY_FIELDS, "reply", "trace")


class DecisionTraceListApi(APIView):
    @extend_schema(
        responses=DecisionTraceSummarySerializer(many=True),
        operation_id="traces_list",
        description=f"The workspace's latest {TRACES_LISTED} decision traces, newest first.",
    )
    def get(self, request: Request) -> Response:
        traces = decision_traces_of_workspace(workspace=api_workspace(request))[:TRACES_LISTED]
        return Response(DecisionTraceSummarySerializer(traces, many=True).data)


class DecisionTraceDetailApi(APIView):
    @extend_schema(responses=DecisionTraceDetailSerializer, operation_id="traces_retrieve")
    def get(self, request: Request, trace_id: int) -> Response:
        record = decision_trace_of_workspace(workspace=api_workspace(request), trace_id=trace_id)
        if record is None:
            raise Http404("No such trace.")
        return Response(DecisionTraceDetailSerializer(record).data)


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
            queue = services.queue_save(
                workspace=workspace, by=_person(request), **_queue_fields(data.validated_data)
            )
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
                workspace=workspace,
                queue=queue,
                by=_person(request),
                **_queue_fields(data.validated_data),
            )
        except ValidationError as error:
            raise _api_error(error) from None
        return Response(QueueSerializer(queue).data)

    @extend_schema(responses={204: None}, operation_id="queues_destroy")
    def delete(self, request: Request, queue_id: int) -> Response:
        queue = _queue_or_404(api_workspace_for_change(request), queue_id)
        try:
            services.queue_delete(queue=queue, by=_person(request))
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


# --- AI actions ------------------------------------------------------------------------------


def _action_or_404(workspace: Workspace, action_id: int) -> Action:
    action = action_of_workspace(workspace=workspace, action_id=action_id)
    if action is None:
        raise Http404("No such action.")
    return action


class ActionOutputSerializer(serializers.ModelSerializer[Action]):
    class Meta:
        model = Action
        fields = (
            "id",
            "key",
            "name",
            "description",
            "example_phrasings",
            "parameters",
            "risk",
            "policy",
            "webhook_url",
            "enabled",
            "created_at",
            "updated_at",
        )


@extend_schema_serializer(component_name="ActionInput")
class ActionInputSerializer(serializers.Serializer[Any]):
    """Shapes only; lengths, the parameter schema and the rules are checked by the service, which
    names the field at fault."""

    key = StrictCharField(
        allow_blank=True, help_text="How the AI calls it: lower-case letters, digits, _ and -."
    )
    name = StrictCharField(allow_blank=True)
    description = StrictCharField(
        allow_blank=True, help_text="What it does; the AI decides from it when the action fits."
    )
    example_phrasings = serializers.ListField(
        child=StrictCharField(allow_blank=True),
        required=False,
        help_text="Up to 20 things a customer might say that call for this action.",
    )
    parameters = serializers.DictField(
        required=False,
        help_text="JSON Schema subset: an object whose properties are string, integer, number or "
        "boolean, with optional description, maxLength, minimum, maximum, enum; and `required`.",
    )
    risk = serializers.ChoiceField(choices=ActionRisk.choices)
    policy = serializers.ChoiceField(
        choices=ActionPolicy.choices,
        help_text="What the AI may do with it. A destructive action can never be autonomous.",
    )
    webhook_url = StrictCharField(
        allow_blank=True, required=False, help_text="http(s) URL of your backend's endpoint."
    )
    enabled = serializers.BooleanField(
        required=False, help_text="Only with a webhook URL set. New actions start disabled."
    )


class ActionListCreateApi(APIView):
    @extend_schema(responses=ActionOutputSerializer(many=True), operation_id="actions_list")
    def get(self, request: Request) -> Response:
        listed = actions_of_workspace(workspace=api_workspace(request))
        return Response(ActionOutputSerializer(listed, many=True).data)

    @extend_schema(
        request=ActionInputSerializer,
        responses={201: ActionOutputSerializer},
        operation_id="actions_create",
    )
    def post(self, request: Request) -> Response:
        workspace = api_workspace_for_change(request)
        data = ActionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            action = actions.action_create(
                workspace=workspace, by=_person(request), **data.validated_data
            )
        except ValidationError as error:
            raise _api_error(error) from None
        return Response(ActionOutputSerializer(action).data, status=status.HTTP_201_CREATED)


class ActionDetailApi(APIView):
    @extend_schema(responses=ActionOutputSerializer, operation_id="actions_retrieve")
    def get(self, request: Request, action_id: int) -> Response:
        action = _action_or_404(api_workspace(request), action_id)
        return Response(ActionOutputSerializer(action).data)

    @extend_schema(
        request=ActionInputSerializer(partial=True),
        responses=ActionOutputSerializer,
        operation_id="actions_partial_update",
        description="Change some fields; the result is validated as a whole.",
    )
    def patch(self, request: Request, action_id: int) -> Response:
        action = _action_or_404(api_workspace_for_change(request), action_id)
        data = ActionInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            action = actions.action_update(
                action=action, changes=data.validated_data, by=_person(request)
            )
        except ValidationError as error:
            raise _api_error(error) from None
        return Response(ActionOutputSerializer(action).data)

    @extend_schema(responses={204: None}, operation_id="actions_destroy")
    def delete(self, request: Request, action_id: int) -> Response:
        action = _action_or_404(api_workspace_for_change(request), action_id)
        try:
            actions.action_delete(action=action, by=_person(request))
        except ValidationError as error:
            raise _api_error(error) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplatesInstalledSerializer(serializers.Serializer[Any]):
    created = serializers.ListField(
        child=serializers.CharField(), help_text="Keys of the actions this call installed."
    )
    actions = ActionOutputSerializer(many=True, help_text="Every template's action, new or not.")


class ActionTemplatesInstallApi(APIView):
    @extend_schema(
        request=None,
        responses=TemplatesInstalledSerializer,
        operation_id="actions_templates_install",
        description="Install the built-in actions (password reset, data export, add seat, refund, "
        "cancel subscription, delete account) that are missing, disabled until their webhook URL "
        "is set. Installing again changes nothing.",
    )
    def post(self, request: Request) -> Response:
        installed = actions.action_templates_install(
            workspace=api_workspace_for_change(request), by=_person(request)
        )
        output = {
            "created": [action.key for action in installed.created],
            "actions": installed.actions,
        }
        return Response(TemplatesInstalledSerializer(output).data)


class ApprovalPolicySerializer(serializers.ModelSerializer[ActionApprovalPolicy]):
    approvers = serializers.ListField(
        child=serializers.CharField(),
        help_text='Who may approve: "admin", "agent:2", "agent:1", "viewer" (never for '
        "destructive actions).",
    )
    updated_by = serializers.EmailField(source="updated_by.email", default=None, read_only=True)

    class Meta:
        model = ActionApprovalPolicy
        fields = ("risk", "approvers", "updated_at", "updated_by")
        read_only_fields = ("updated_at",)


class ApprovalPolicyListInputSerializer(serializers.ListSerializer[Any]):
    child = ApprovalPolicySerializer()

    def validate(self, attrs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        risks = [policy["risk"] for policy in attrs]
        if len(set(risks)) != len(risks):
            raise serializers.ValidationError("Each risk level at most once.")
        return attrs


class ActionPolicyApi(APIView):
    """Which roles and agent tiers may approve the actions of each risk level."""

    @extend_schema(
        responses=ApprovalPolicySerializer(many=True), operation_id="action_policies_list"
    )
    def get(self, request: Request) -> Response:
        policies = action_approval_policies_of_workspace(workspace=api_workspace(request))
        return Response(ApprovalPolicySerializer(policies, many=True).data)

    @extend_schema(
        request=ApprovalPolicySerializer(many=True),
        responses=ApprovalPolicySerializer(many=True),
        operation_id="action_policies_update",
        description="Set the approvers of the risk levels listed (others stay as they are). "
        "All or nothing: one invalid entry changes none; its error is under its risk.",
    )
    def put(self, request: Request) -> Response:
        workspace = api_workspace_for_change(request)
        data = ApprovalPolicyListInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            actions.action_approval_policies_update(
                workspace=workspace,
                approvers_by_risk={p["risk"]: p["approvers"] for p in data.validated_data},
                updated_by=_person(request),
            )
        except ValidationError as error:
            raise _api_error(error) from None
        policies = action_approval_policies_of_workspace(workspace=workspace)
        return Response(ApprovalPolicySerializer(policies, many=True).data)


class WebhookSecretSerializer(serializers.ModelSerializer[ActionWebhookSecret]):
    class Meta:
        model = ActionWebhookSecret
        fields = ("secret", "created_at", "rotated_at")


class ActionWebhookSecretApi(APIView):
    @extend_schema(
        responses=WebhookSecretSerializer,
        operation_id="action_webhook_secret_retrieve",
        description="The secret action webhooks are signed with (HMAC-SHA256 over "
        '"<timestamp>.<body>", header X-Support-Signature: t=<timestamp>,v1=<hex>). Admins '
        "and API keys only; made on first use.",
    )
    def get(self, request: Request) -> Response:
        secret = actions.action_webhook_secret_get_or_create(
            workspace=api_workspace_for_change(request)
        )
        return Response(WebhookSecretSerializer(secret).data)


class ActionWebhookSecretRotateApi(APIView):
    @extend_schema(
        request=None,
        responses=WebhookSecretSerializer,
        operation_id="action_webhook_secret_rotate",
        description="Replace the signing secret. The old one stops working at once.",
    )
    def post(self, request: Request) -> Response:
        secret = actions.action_webhook_secret_rotate(
            workspace=api_workspace_for_change(request), by=_person(request)
        )
        return Response(WebhookSecretSerializer(secret).data)
