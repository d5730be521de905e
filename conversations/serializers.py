"""How a conversation, a message and a handoff look on the wire: one shape for the REST API and
the live events, so a client can merge what it fetched with what it was pushed.

Two views of a message: the customer's (never an internal note, never the trace) and the
workspace's (console users and API clients: notes flagged `internal`, the trace id).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from conversations.models import (
    WAITING_ACTION_STATUSES,
    ActionRequest,
    ActionRequestEvent,
    Conversation,
    Customer,
    Handoff,
    Message,
)


@extend_schema_serializer(component_name="MessageCitation")
class CitationSerializer(serializers.Serializer[Any]):
    external_id = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField()


class CustomerMessageSerializer(serializers.ModelSerializer[Message]):
    """A message as the customer sees it."""

    author_name = serializers.SerializerMethodField(
        help_text="The agent's name, for agent messages."
    )
    citations = CitationSerializer(many=True, help_text="The articles an AI answer is from.")

    class Meta:
        model = Message
        fields: tuple[str, ...] = (
            "id",
            "conversation",
            "sender",
            "kind",
            "text",
            "client_id",
            "author_name",
            "citations",
            "created_at",
        )

    def get_author_name(self, message: Message) -> str | None:
        # The customer sees the agent's name, never their email.
        if message.author is None:
            return None
        return message.author.name or None


class MessageSerializer(CustomerMessageSerializer):
    """A message as the workspace sees it: internal notes included and flagged."""

    internal = serializers.BooleanField(
        source="is_internal", help_text="An internal note: never shown to the customer."
    )
    trace_id = serializers.IntegerField(
        allow_null=True,
        help_text="The decision trace of an AI reply: /api/v1/routing/traces/{trace_id}/.",
    )

    class Meta(CustomerMessageSerializer.Meta):
        fields = (*CustomerMessageSerializer.Meta.fields, "internal", "trace_id")


@extend_schema_serializer(component_name="ConversationCustomer")
class CustomerSerializer(serializers.ModelSerializer[Customer]):
    class Meta:
        model = Customer
        fields = ("id", "external_id", "name", "email", "plan", "attributes", "verified")


class QueueRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PersonSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


class HandoffSerializer(serializers.ModelSerializer[Handoff]):
    queue = QueueRefSerializer(allow_null=True)
    claimed_by = PersonSerializer(allow_null=True)
    brief = serializers.DictField(
        help_text="What the agent needs to know: wants, context, reason, tried, sentiment, "
        "language, customer, suggested_reply."
    )

    class Meta:
        model = Handoff
        fields = (
            "id",
            "message",
            "reason",
            "priority",
            "queue",
            "brief",
            "created_at",
            "claimed_at",
            "claimed_by",
        )


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    """A conversation in a list or an inbox event."""

    customer = CustomerSerializer()
    queue = QueueRefSerializer(allow_null=True)
    assignee = PersonSerializer(allow_null=True)
    flow_version = serializers.IntegerField(
        source="flow_version.number",
        default=None,
        help_text="The published flow version that decided the last AI reply.",
    )
    tags = serializers.ListField(child=serializers.CharField())
    actions_waiting = serializers.SerializerMethodField(
        help_text="Whether an AI action request waits for an agent's decision (it then shows "
        "in the inbox even while the AI has the conversation)."
    )

    class Meta:
        model = Conversation
        fields: tuple[str, ...] = (
            "id",
            "status",
            "actions_waiting",
            "priority",
            "queue",
            "assignee",
            "language",
            "customer",
            "ai_turns",
            "tags",
            "flow_version",
            "handed_off_at",
            "resolved_at",
            "last_customer_message_at",
            "csat_rating",
            "csat_comment",
            "created_at",
            "updated_at",
        )

    def get_actions_waiting(self, conversation: Conversation) -> bool:
        # Lists annotate it (conversations.selectors.conversation_list); a single one asks.
        annotated = getattr(conversation, "actions_waiting", None)
        if annotated is not None:
            return bool(annotated)
        return conversation.action_requests.filter(status__in=WAITING_ACTION_STATUSES).exists()


class ActionRequestEventSerializer(serializers.ModelSerializer[ActionRequestEvent]):
    actor = PersonSerializer(
        allow_null=True, help_text="The person, for the steps of agents and admins."
    )
    # A plain string: were it a second use of the request's status enum, drf-spectacular would
    # name that enum with a hash (other components have "status" enums too).
    status = serializers.CharField(help_text="The status the request moved to, as in its status.")

    class Meta:
        model = ActionRequestEvent
        fields = ("status", "actor_kind", "actor", "actor_role", "note", "created_at")


class ActionRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    key = serializers.CharField()
    name = serializers.CharField()
    risk = serializers.CharField()
    policy = serializers.CharField()


class ActionRequestSerializer(serializers.ModelSerializer[ActionRequest]):
    """A request to run an action, with its audit trail (oldest step first)."""

    action = ActionRefSerializer()
    requested_by = PersonSerializer(allow_null=True)
    parameters = serializers.DictField()
    missing_parameters = serializers.ListField(
        child=serializers.CharField(),
        help_text="Required parameters still to fill in: the approver gives them when approving.",
    )
    result = serializers.DictField(
        help_text="What the backend answered: ok, status, error, reply, attempts."
    )
    events = ActionRequestEventSerializer(many=True)

    class Meta:
        model = ActionRequest
        fields = (
            "id",
            "conversation",
            "action",
            "status",
            "parameters",
            "missing_parameters",
            "requested_by_ai",
            "requested_by",
            "idempotency_key",
            "result",
            "error",
            "expires_at",
            "created_at",
            "updated_at",
            "events",
        )


def action_request_json(request: ActionRequest) -> dict[str, Any]:
    return dict(ActionRequestSerializer(request).data)


def customer_message_json(message: Message) -> dict[str, Any]:
    return dict(CustomerMessageSerializer(message).data)


def message_json(message: Message) -> dict[str, Any]:
    return dict(MessageSerializer(message).data)


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    return dict(ConversationSerializer(conversation).data)


def handoff_json(handoff: Handoff) -> dict[str, Any]:
    return dict(HandoffSerializer(handoff).data)
