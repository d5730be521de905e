"""Customers, their conversations, every message in them, and the handoffs to humans.

Every model holds the workspace key, so every read can be scoped to one tenant without a join.
Messages are never edited or deleted on their own: the transcript is what the customer saw.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from console.models import User, Workspace
from routing.models import DecisionTrace, FlowVersion, Queue


class Customer(models.Model):
    """Someone who chats with the workspace. Anonymous customers have no `external_id`.

    `verified` customers' details were vouched for by the company (its backend, with an API
    key); only those details reach the support flow.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="customers")
    external_id = models.CharField(max_length=128, blank=True)  # the company's user id
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    plan = models.CharField(max_length=60, blank=True)
    attributes = models.JSONField(default=dict, blank=True)  # flat: names to str/number/bool
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=("workspace", "external_id"),
                condition=~models.Q(external_id=""),
                name="customer_external_id_once_per_workspace",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.external_id or f"Customer {self.pk}"


class ConversationStatus(models.TextChoices):
    AI = "ai", "With the AI"
    WAITING = "waiting", "Waiting for an agent"  # handed off, nobody claimed it yet
    ASSIGNED = "assigned", "With an agent"
    RESOLVED = "resolved", "Resolved"


# While a human owns a conversation the AI does not reply: it would talk over the agent.
HUMAN_OWNED_STATUSES = (ConversationStatus.WAITING, ConversationStatus.ASSIGNED)


class Priority(models.TextChoices):
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Conversation(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="conversations")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(
        max_length=10, choices=ConversationStatus.choices, default=ConversationStatus.AI
    )
    queue = models.ForeignKey(
        Queue, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    language = models.CharField(max_length=12, blank=True)
    # The published version that decided the last AI reply.
    flow_version = models.ForeignKey(
        FlowVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ai_turns = models.PositiveIntegerField(default=0)  # AI answers since it was (re)opened
    tags = models.JSONField(default=list, blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    # The customer's rating (1-5) of the last resolution; a new rating replaces it.
    csat_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    csat_comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=("workspace", "status", "priority"), name="conversation_inbox"),
        ]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=models.Q(csat_rating__isnull=True) | models.Q(csat_rating__range=(1, 5)),
                name="conversation_csat_rating_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.pk} ({self.status})"

    @property
    def is_human_owned(self) -> bool:
        return self.status in HUMAN_OWNED_STATUSES


class Sender(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AI = "ai", "AI"
    AGENT = "agent", "Agent"
    SYSTEM = "system", "System"


class MessageKind(models.TextChoices):
    TEXT = "text", "Text"
    NOTE = "note", "Internal note"  # between agents: never shown to the customer
    EVENT = "event", "Event"  # "an agent joined", "resolved": shown as a line, not a bubble


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    sender = models.CharField(max_length=10, choices=Sender.choices)
    kind = models.CharField(max_length=10, choices=MessageKind.choices, default=MessageKind.TEXT)
    text = models.TextField()
    # The customer's client picks it; resending the same one never stores the message twice.
    # Blank on the AI's, agents' and system messages.
    client_id = models.CharField(max_length=64, blank=True)
    author = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True)
    # An AI or system reply names the customer message it answers: at most one reply each, so
    # a reply job that runs twice (a retry, or `wait` racing the worker) cannot answer twice.
    reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    citations = models.JSONField(default=list, blank=True)
    trace = models.ForeignKey(
        DecisionTrace, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=("conversation", "id"), name="message_replay"),
        ]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=("conversation", "client_id"),
                condition=models.Q(sender="customer") & ~models.Q(client_id=""),
                name="message_client_id_once_per_conversation",
            ),
            models.UniqueConstraint(
                fields=("reply_to",),
                condition=models.Q(reply_to__isnull=False),
                name="message_one_reply_per_message",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender} message {self.pk}"

    @property
    def is_internal(self) -> bool:
        return self.kind == MessageKind.NOTE


class Handoff(models.Model):
    """The AI passing a conversation to humans, with the brief the agent reads first."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="handoffs"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    # The customer message the AI handed off on.
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=40)  # low_confidence, sentiment, human_request, ...
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    queue = models.ForeignKey(
        Queue, on_delete=models.SET_NULL, null=True, blank=True, related_name="handoffs"
    )
    brief = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"Handoff {self.pk} of conversation {self.conversation_id}: {self.reason}"


# --- AI actions requested in a conversation --------------------------------------------------


class ActionRequestStatus(models.TextChoices):
    """Where one request to run an action stands.

    Every request starts `requested` (the audit log's first event: who asked) and is sorted at
    once by the action's policy: `suggested` (policy "suggest": an idea for the agent, not told to
    the customer), `pending` (waits for an approver) or `approved` (policy "autonomous", never for
    a destructive action). Then `rejected`, `expired` (nobody decided in time), and after the
    webhook `executed` or `failed`. A request never rests in `requested`.
    """

    REQUESTED = "requested", "Requested"
    SUGGESTED = "suggested", "Suggested to an agent"
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    EXECUTED = "executed", "Done"
    FAILED = "failed", "Failed"


# A request a person can still decide on (approve or reject), and which may expire.
OPEN_ACTION_REQUEST_STATUSES = (ActionRequestStatus.SUGGESTED, ActionRequestStatus.PENDING)


class ActorKind(models.TextChoices):
    AI = "ai", "AI"
    AGENT = "agent", "Agent"  # any signed-in member: agent or admin
    API = "api", "API key"
    SYSTEM = "system", "System"  # the policy, the expiry timer, the webhook's outcome


class ActionRequest(models.Model):
    """A request to run an AI action for a conversation's customer; conversations.action_requests
    moves it through its statuses, and only there."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="action_requests",
    )
    # PROTECT: deleting an action must not erase the audit trail of what was done with it.
    action = models.ForeignKey("routing.Action", on_delete=models.PROTECT, related_name="requests")
    parameters = models.JSONField(default=dict, blank=True)
    # Required parameters nobody gave yet (the AI could not tell the amount): an approver fills
    # them in; until then the request cannot run, whatever the policy.
    missing_parameters = models.JSONField(default=list, blank=True)
    requested_by_ai = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=12, choices=ActionRequestStatus.choices)
    # Sent with every try of the webhook, so the backend runs the action at most once.
    idempotency_key = models.UUIDField(unique=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-id",)
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=("workspace", "status", "expires_at"), name="action_request_open"),
        ]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=models.Q(status__in=ActionRequestStatus.values),
                name="action_request_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"Action request {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ACTION_REQUEST_STATUSES


# Requests an agent must decide on: the conversation then shows in the inbox.
WAITING_ACTION_STATUSES = (ActionRequestStatus.PENDING, ActionRequestStatus.SUGGESTED)


class ActionRequestEvent(models.Model):
    """The audit log: one row per step of a request, with who took it. Never changed."""

    request = models.ForeignKey(ActionRequest, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=12, choices=ActionRequestStatus.choices)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    # The approver's role when they acted ("admin", "agent:2"): roles change, the log must not.
    actor_role = models.CharField(max_length=20, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.request} -> {self.status} by {self.actor_kind}"


class ChatWidgetSettings(models.Model):
    """Where the workspace's chat may be embedded as a widget: the sites (origins such as
    "https://www.example.com") allowed to frame /chat/<slug>/. Without a row, or with an empty
    list, no other site may frame it. `conversations.widget` validates the origins."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="chat_widget_settings"
    )
    allowed_origins = models.JSONField(default=list, blank=True)  # normalised, in the admin's order
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name_plural = "chat widget settings"

    def __str__(self) -> str:
        return f"Chat widget of {self.workspace}"
