"""REST API of conversations: start one, post the customer's messages (optionally waiting for
the AI's reply), list and replay, and the agent's claim, reply, note, resolve, hand back to the
AI and transfer. Thin: the rules are in conversations.services.

Who may do what: any member or API key reads; admins, agents and API keys start conversations,
post customer messages and resolve; claiming and replying need a person (an agent or admin
signed in), because the customer is told who joined and the conversation is assigned to them.
An API key acts for the workspace, not as a person, so it gets 403 there.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.access import ADMINS_AND_AGENTS
from console.api_access import (
    api_membership,
    api_validation_error,
    api_workspace,
    api_workspace_for_roles,
)
from console.authentication import ApiKeyClient
from console.models import User, Workspace
from conversations import action_requests, services
from conversations.models import ActionRequest, Conversation, ConversationStatus, Priority
from conversations.selectors import (
    action_request_of_workspace,
    action_requests_of_conversation,
    conversation_list,
    conversation_of_workspace,
    handoff_latest,
    messages_after,
)
from conversations.serializers import (
    ActionRequestSerializer,
    ConversationSerializer,
    HandoffSerializer,
    MessageSerializer,
)
from routing.apis import StrictCharField
from routing.selectors import actions_of_workspace, queues_of_workspace

LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 50, 200
MESSAGES_LIMIT_DEFAULT, MESSAGES_LIMIT_MAX = 200, 500


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The conversation is not in a state that allows this."
    default_code = "conflict"


def _conversation_or_404(workspace: Workspace, conversation_id: int) -> Conversation:
    conversation = conversation_of_workspace(workspace=workspace, conversation_id=conversation_id)
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def _person(request: Request, *, doing: str) -> tuple[Workspace, User]:
    """The workspace and the signed-in agent or admin making the request."""
    if isinstance(request.user, ApiKeyClient):
        raise PermissionDenied(
            f"An API key acts for the workspace, not as an agent: sign in as an agent to {doing}."
        )
    workspace = api_workspace_for_roles(request, roles=ADMINS_AND_AGENTS, doing=doing)
    assert isinstance(request.user, User)  # not an API key, so a signed-in member
    return workspace, request.user


# --- conversations ---------------------------------------------------------------------------


@extend_schema_serializer(component_name="CustomerInput")
class CustomerInputSerializer(serializers.Serializer[Any]):
    """The customer's details, for the schema; conversations.services checks them."""

    external_id = serializers.CharField(
        max_length=128, required=False, help_text="Your user id; finds the same customer again."
    )
    name = serializers.CharField(max_length=200, required=False)
    email = serializers.EmailField(required=False)
    plan = serializers.CharField(max_length=60, required=False)
    attributes = serializers.DictField(
        required=False,
        help_text="Up to 50 names to text (at most 500 characters), numbers or true/false; "
        "routing rules and the agent's brief see them.",
    )


@extend_schema_field(CustomerInputSerializer)
class CustomerDataField(serializers.DictField):
    """Passed through as sent: the service validates it, so the chat and the API agree."""


class ConversationFilterSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=ConversationStatus.choices, required=False)
    queue = serializers.IntegerField(min_value=1, required=False, help_text="A queue id.")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    assignee = serializers.ChoiceField(
        choices=("me", "unassigned"),
        required=False,
        help_text="me: assigned to the signed-in agent; unassigned: to nobody.",
    )
    language = serializers.CharField(max_length=12, required=False)
    limit = serializers.IntegerField(
        min_value=1, max_value=LIST_LIMIT_MAX, default=LIST_LIMIT_DEFAULT
    )
    offset = serializers.IntegerField(min_value=0, default=0)


# The schema of ConversationDetailSerializer, as Conversation plus `handoff`: a second component
# repeating Conversation's fields would share its `status` enum with another component, and
# drf-spectacular then names the enum with a hash (other apps have `status` enums too).
CONVERSATION_DETAIL_SCHEMA = {
    "allOf": [
        {"$ref": "#/components/schemas/Conversation"},
        {
            "type": "object",
            "properties": {
                "handoff": {
                    "allOf": [{"$ref": "#/components/schemas/Handoff"}],
                    "nullable": True,
                    "description": "The latest handoff, with the brief the agent reads first.",
                }
            },
            "required": ["handoff"],
        },
    ]
}


class ConversationDetailSerializer(ConversationSerializer):
    handoff = serializers.SerializerMethodField()

    class Meta(ConversationSerializer.Meta):
        fields = (*ConversationSerializer.Meta.fields, "handoff")

    def get_handoff(self, conversation: Conversation) -> dict[str, Any] | None:
        handoff = handoff_latest(conversation=conversation)
        return dict(HandoffSerializer(handoff).data) if handoff is not None else None


class ConversationListCreateApi(APIView):
    @extend_schema_serializer(component_name="ConversationStartInput")
    class InputSerializer(serializers.Serializer[Any]):
        customer = CustomerDataField(required=False)

    @extend_schema(
        parameters=[ConversationFilterSerializer],
        responses=ConversationSerializer(many=True),
        operation_id="conversations_list",
        description="The inbox order: urgent, high, then normal priority; within each, the one "
        "waiting longest first.",
    )
    def get(self, request: Request) -> Response:
        workspace = api_workspace(request)
        query = ConversationFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        assignee = filters.get("assignee")
        me = request.user if isinstance(request.user, User) else None
        if assignee == "me" and me is None:
            raise ApiValidationError({"assignee": ["An API key is not a person: use unassigned."]})
        conversations = conversation_list(
            workspace=workspace,
            status=filters.get("status"),
            queue_id=filters.get("queue"),
            priority=filters.get("priority"),
            assignee=me if assignee == "me" else None,
            unassigned=assignee == "unassigned",
            language=filters.get("language"),
        )
        page = conversations[filters["offset"] : filters["offset"] + filters["limit"]]
        return Response(ConversationSerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: ConversationSerializer},
        operation_id="conversations_create",
        description="Start a conversation. The customer's details come from you (an API key or "
        "a signed-in member), so they are trusted: they reach the support flow and the agent.",
    )
    def post(self, request: Request) -> Response:
        workspace = api_workspace_for_roles(
            request, roles=ADMINS_AND_AGENTS, doing="start conversations"
        )
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            conversation = services.conversation_start(
                workspace=workspace,
                customer_data=data.validated_data.get("customer", {}),
                verified=True,
            )
        except ValidationError as error:
            raise ApiValidationError({"customer": api_validation_error(error).detail}) from None
        conversation = _conversation_or_404(workspace, conversation.pk)
        return Response(ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)


class ConversationDetailApi(APIView):
    @extend_schema(
        responses={200: CONVERSATION_DETAIL_SCHEMA}, operation_id="conversations_retrieve"
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation_or_404(api_workspace(request), conversation_id)
        return Response(ConversationDetailSerializer(conversation).data)


# --- messages --------------------------------------------------------------------------------


class MessageReplayQuerySerializer(serializers.Serializer[Any]):
    after = serializers.IntegerField(
        min_value=0, default=0, help_text="The last message id the client has; 0 for all."
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=MESSAGES_LIMIT_MAX, default=MESSAGES_LIMIT_DEFAULT
    )


class CustomerMessagePostOutputSerializer(serializers.Serializer[Any]):
    message = MessageSerializer(help_text="The customer's message, as stored.")
    reply = MessageSerializer(
        allow_null=True, help_text='With "wait": the AI\'s reply; null when it stays silent.'
    )
    handoff = HandoffSerializer(
        allow_null=True, help_text='With "wait": the handoff, when the AI handed off.'
    )


class ConversationMessagesApi(APIView):
    @extend_schema_serializer(component_name="CustomerMessageInput")
    class InputSerializer(serializers.Serializer[Any]):
        text = StrictCharField(trim_whitespace=False, allow_blank=True)
        client_id = StrictCharField(
            help_text="Your id for this message (1-64 of A-Z a-z 0-9 _ -): resending it never "
            "stores the message twice."
        )
        wait = serializers.BooleanField(
            default=False,
            help_text="Run the AI's reply in this request and return it (or the handoff).",
        )

    @extend_schema(
        parameters=[MessageReplayQuerySerializer],
        responses=MessageSerializer(many=True),
        operation_id="conversations_messages_list",
        description="The messages after `after`, oldest first, internal notes included and "
        "flagged `internal`. Ask again with the last id until the list is empty.",
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation_or_404(api_workspace(request), conversation_id)
        query = MessageReplayQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        messages = messages_after(
            conversation=conversation, after_id=query.validated_data["after"]
        )[: query.validated_data["limit"]]
        return Response(MessageSerializer(messages, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: CustomerMessagePostOutputSerializer,
            200: CustomerMessagePostOutputSerializer,
        },
        operation_id="conversations_messages_create",
        description="Store a message from the customer (your backend or your own chat client "
        "posts it). 201 when stored; 200 with the same body when this client_id was already "
        "stored. While an agent owns the conversation the AI does not reply.",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        workspace = api_workspace_for_roles(
            request, roles=ADMINS_AND_AGENTS, doing="post customer messages"
        )
        conversation = _conversation_or_404(workspace, conversation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            message, created = services.customer_message_post(
                conversation=conversation,
                text=values["text"],
                client_id=values["client_id"],
                reply_in_background=not values["wait"],
            )
        except ValidationError as error:
            raise api_validation_error(error) from None
        result = None
        if values["wait"]:
            result = services.conversation_reply(
                conversation_id=conversation.pk, message_id=message.pk
            )
        output = {
            "message": message,
            "reply": result.message if result else None,
            "handoff": result.handoff if result else None,
        }
        return Response(
            CustomerMessagePostOutputSerializer(output).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# --- what agents do --------------------------------------------------------------------------


class ConversationClaimApi(APIView):
    @extend_schema(
        request=None,
        responses=ConversationSerializer,
        operation_id="conversations_claim",
        description="Take the conversation: it is assigned to you and the AI stops replying. "
        "409 when another agent owns it or it is resolved.",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        workspace, agent = _person(request, doing="claim conversations")
        conversation = _conversation_or_404(workspace, conversation_id)
        try:
            conversation = services.conversation_claim(conversation=conversation, agent=agent)
        except services.ConversationStateError as error:
            raise Conflict(str(error)) from None
        return Response(ConversationSerializer(conversation).data)


class ConversationResolveApi(APIView):
    @extend_schema(
        request=None, responses=ConversationSerializer, operation_id="conversations_resolve"
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        workspace = api_workspace_for_roles(
            request, roles=ADMINS_AND_AGENTS, doing="resolve conversations"
        )
        conversation = _conversation_or_404(workspace, conversation_id)
        by = request.user if isinstance(request.user, User) else None
        conversation = services.conversation_resolve(conversation=conversation, by=by)
        return Response(ConversationSerializer(conversation).data)


class ConversationHandBackApi(APIView):
    @extend_schema(
        request=None,
        responses=ConversationSerializer,
        operation_id="conversations_hand_back",
        description="Give the conversation back to the AI: it answers the customer's next "
        "message again. 409 when no human has it (the AI has it, or it is resolved).",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        workspace, agent = _person(request, doing="hand conversations back to the AI")
        conversation = _conversation_or_404(workspace, conversation_id)
        try:
            conversation = services.conversation_hand_back(conversation=conversation, agent=agent)
        except services.ConversationStateError as error:
            raise Conflict(str(error)) from None
        return Response(ConversationSerializer(conversation).data)


class ConversationTransferApi(APIView):
    @extend_schema_serializer(component_name="TransferInput")
    class InputSerializer(serializers.Serializer[Any]):
        queue = serializers.IntegerField(help_text="The id of a queue of this workspace.")

    @extend_schema(
        request=InputSerializer,
        responses=ConversationSerializer,
        operation_id="conversations_transfer",
        description="Put the conversation on another queue, unassigned, waiting for an agent. "
        "409 when it is resolved.",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        workspace, agent = _person(request, doing="transfer conversations")
        conversation = _conversation_or_404(workspace, conversation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        queue = queues_of_workspace(workspace=workspace).filter(pk=data.validated_data["queue"])
        if not queue.exists():
            raise ApiValidationError({"queue": ["Choose a queue of this workspace."]})
        try:
            conversation = services.conversation_transfer(
                conversation=conversation, agent=agent, queue=queue.get()
            )
        except services.ConversationStateError as error:
            raise Conflict(str(error)) from None
        return Response(ConversationSerializer(conversation).data)


class ConversationAssignApi(APIView):
    @extend_schema_serializer(component_name="AssignInput")
    class InputSerializer(serializers.Serializer[Any]):
        assignee = serializers.IntegerField(
            help_text="The user id of an agent or admin of this workspace."
        )

    @extend_schema(
        request=InputSerializer,
        responses=ConversationSerializer,
        operation_id="conversations_assign",
        description="Give the conversation to a named agent (even if a colleague has it); the "
        "AI stops replying. 400 when the assignee is not an agent or admin of this workspace, "
        "409 when the conversation is resolved.",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        workspace, agent = _person(request, doing="assign conversations")
        conversation = _conversation_or_404(workspace, conversation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignee = User.objects.filter(pk=data.validated_data["assignee"]).first()
        if assignee is None:
            raise ApiValidationError({"assignee": ["Choose an agent or admin of this workspace."]})
        try:
            conversation = services.conversation_assign(
                conversation=conversation, by=agent, assignee=assignee
            )
        except ValidationError as error:
            raise ApiValidationError(error.message_dict) from None
        except services.ConversationStateError as error:
            raise Conflict(str(error)) from None
        return Response(ConversationSerializer(conversation).data)


class ConversationReopenApi(APIView):
    @extend_schema(
        request=None,
        responses=ConversationSerializer,
        operation_id="conversations_reopen",
        description="Reopen a resolved conversation: it is assigned to you and the AI stays "
        "silent. 409 when it is not resolved.",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        workspace, agent = _person(request, doing="reopen conversations")
        conversation = _conversation_or_404(workspace, conversation_id)
        try:
            conversation = services.conversation_reopen(conversation=conversation, agent=agent)
        except services.ConversationStateError as error:
            raise Conflict(str(error)) from None
        return Response(ConversationSerializer(conversation).data)


class ConversationReplyApi(APIView):
    @extend_schema_serializer(component_name="AgentReplyInput")
    class InputSerializer(serializers.Serializer[Any]):
        text = StrictCharField(trim_whitespace=False, allow_blank=True)
        internal = serializers.BooleanField(
            default=False, help_text="An internal note for agents; the customer never sees it."
        )

    @extend_schema(
        request=InputSerializer,
        responses={201: MessageSerializer},
        operation_id="conversations_reply",
        description="Reply to the customer as the signed-in agent (taking the conversation if "
        "nobody owns it), or add an internal note.",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        workspace, agent = _person(request, doing="reply to customers")
        conversation = _conversation_or_404(workspace, conversation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            message = services.agent_message_post(
                conversation=conversation,
                agent=agent,
                text=data.validated_data["text"],
                internal=data.validated_data["internal"],
            )
        except ValidationError as error:
            raise api_validation_error(error) from None
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class ConversationHandoffApi(APIView):
    @extend_schema(
        responses=HandoffSerializer,
        operation_id="conversations_handoff",
        description="The latest handoff and its brief; 404 when the AI never handed off.",
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation_or_404(api_workspace(request), conversation_id)
        handoff = handoff_latest(conversation=conversation)
        if handoff is None:
            raise Http404("The AI has not handed this conversation off.")
        return Response(HandoffSerializer(handoff).data)


# --- AI action requests ----------------------------------------------------------------------


def _action_request_or_404(workspace: Workspace, request_id: int) -> ActionRequest:
    request = action_request_of_workspace(workspace=workspace, request_id=request_id)
    if request is None:
        raise Http404("No such action request.")
    return request


def _approver(request: Request, *, doing: str) -> tuple[Workspace, User]:
    """The signed-in member deciding on a request. Whether their role may decide on this risk
    is the service's to say (a workspace may let viewers approve read actions)."""
    if isinstance(request.user, ApiKeyClient):
        raise PermissionDenied(
            f"An API key cannot {doing} action requests: a person must decide, so sign in as "
            "a member allowed to approve this kind of action."
        )
    membership = api_membership(request)
    return membership.workspace, membership.user


def _action_request_output(request: ActionRequest) -> dict[str, Any]:
    """Read back through the selector, so the output carries every step of the audit trail."""
    fresh = _action_request_or_404(request.workspace, request.pk)
    return dict(ActionRequestSerializer(fresh).data)


class ConversationActionRequestsApi(APIView):
    @extend_schema_serializer(component_name="ActionRequestInput")
    class InputSerializer(serializers.Serializer[Any]):
        action = StrictCharField(help_text="The action's key, e.g. issue_refund.")
        parameters = serializers.DictField(
            required=False, default=dict, help_text="As the action's parameter schema says."
        )

    @extend_schema(
        responses=ActionRequestSerializer(many=True),
        operation_id="conversations_action_requests_list",
        description="The conversation's action requests, newest first, each with its audit trail.",
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation_or_404(api_workspace(request), conversation_id)
        requests = action_requests_of_conversation(conversation=conversation)
        return Response(ActionRequestSerializer(requests, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: ActionRequestSerializer},
        operation_id="conversations_action_requests_create",
        description="Ask for an action for the conversation's customer, as the signed-in agent "
        "or your backend. The action's policy decides: it runs at once (autonomous, never a "
        "destructive action) or waits for an approver. 400 when the action is disabled, its "
        "policy is never, or a parameter is missing or wrong.",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        workspace = api_workspace_for_roles(
            request, roles=ADMINS_AND_AGENTS, doing="ask for actions"
        )
        conversation = _conversation_or_404(workspace, conversation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        action = actions_of_workspace(workspace=workspace).filter(key=data.validated_data["action"])
        found = action.first()
        if found is None:
            raise ApiValidationError({"action": ["No action with this key in this workspace."]})
        try:
            created = action_requests.action_request_create(
                conversation=conversation,
                action=found,
                parameters=data.validated_data["parameters"],
                requested_by_ai=False,
                requested_by=request.user if isinstance(request.user, User) else None,
            )
        except ValidationError as error:
            raise api_validation_error(error) from None
        return Response(_action_request_output(created), status=status.HTTP_201_CREATED)


class ActionRequestDetailApi(APIView):
    @extend_schema(responses=ActionRequestSerializer, operation_id="action_requests_retrieve")
    def get(self, request: Request, request_id: int) -> Response:
        found = _action_request_or_404(api_workspace(request), request_id)
        return Response(ActionRequestSerializer(found).data)


class ActionRequestApproveApi(APIView):
    @extend_schema_serializer(component_name="ActionRequestApproveInput")
    class InputSerializer(serializers.Serializer[Any]):
        parameters = serializers.DictField(
            required=False,
            help_text="Parameters to fill in or correct (merged over the request's); all the "
            "required ones must be known to approve.",
        )

    @extend_schema(
        request=InputSerializer,
        responses=ActionRequestSerializer,
        operation_id="action_requests_approve",
        description="Approve the request as the signed-in member; it runs right after. 403 for "
        "an API key (a person approves) and for members whose role the workspace's approval "
        "policy does not allow for this risk; 409 when the request was decided or expired.",
    )
    def post(self, request: Request, request_id: int) -> Response:
        workspace, user = _approver(request, doing="approve")
        found = _action_request_or_404(workspace, request_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            approved = action_requests.action_request_approve(
                request=found, by=user, parameters=data.validated_data.get("parameters")
            )
        except ValidationError as error:
            raise api_validation_error(error) from None
        except action_requests.ActionRequestStateError as error:
            raise Conflict(str(error)) from None
        return Response(_action_request_output(approved))


class ActionRequestRejectApi(APIView):
    @extend_schema_serializer(component_name="ActionRequestRejectInput")
    class InputSerializer(serializers.Serializer[Any]):
        note = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=500,
            help_text="Why, for the audit trail; the customer is not shown it.",
        )

    @extend_schema(
        request=InputSerializer,
        responses=ActionRequestSerializer,
        operation_id="action_requests_reject",
        description="Turn the request down as the signed-in member; the customer is told. The "
        "same people may reject as may approve.",
    )
    def post(self, request: Request, request_id: int) -> Response:
        workspace, user = _approver(request, doing="reject")
        found = _action_request_or_404(workspace, request_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            rejected = action_requests.action_request_reject(
                request=found, by=user, note=data.validated_data.get("note", "")
            )
        except action_requests.ActionRequestStateError as error:
            raise Conflict(str(error)) from None
        return Response(_action_request_output(rejected))
