"""Support flows: a draft the admin edits, and immutable published versions.

A conversation records the version that answered it; rolling back publishes an earlier
snapshot again as a new version, so the history only ever grows.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from console.models import User, Workspace


class SupportFlow(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="flows")
    name = models.CharField(max_length=120)
    # The draft, as routing.flow_settings.FlowSettings JSON, and its ordered routing rules
    # (routing.rules.rule_validate JSON): the first enabled rule that matches decides.
    settings = models.JSONField(default=dict)
    rules = models.JSONField(default=list, blank=True)
    # Bumped on every draft change, so that a second admin's save is told the draft moved on.
    draft_revision = models.PositiveIntegerField(default=1)
    published_version = models.ForeignKey(
        "FlowVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=("workspace", "name"), name="flow_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class FlowVersion(models.Model):
    flow = models.ForeignKey(SupportFlow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    # Everything that decides an answer, frozen: {"settings": {...}, "rules": [...],
    # "queues": [...]}.
    snapshot = models.JSONField()
    published_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True)
    published_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ("-number",)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=("flow", "number"), name="flow_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.flow} v{self.number}"


class Queue(models.Model):
    """Where handed-off conversations wait for an agent of the right tier."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="queues")
    name = models.CharField(max_length=80)
    tier = models.PositiveSmallIntegerField(default=1)
    # Waiting unclaimed longer than this raises the conversation's priority.
    sla_wait_minutes = models.PositiveIntegerField(default=10)
    members = models.ManyToManyField(User, blank=True, related_name="queues")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("tier", "name")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=("workspace", "name"), name="queue_name_unique"),
            models.CheckConstraint(condition=models.Q(tier__in=(1, 2)), name="queue_tier_1_or_2"),
        ]

    def __str__(self) -> str:
        return self.name


class DecisionSource(models.TextChoices):
    SIMULATOR = "simulator", "Simulator"
    CONVERSATION = "conversation", "Conversation"
    EVALUATION = "evaluation", "Evaluation"


class DecisionTrace(models.Model):
    """Why the AI decided what it did about one message: the flow's every stage, as run.

    A decision ran either on a published version (`flow_version`) or on the draft as it was at
    `draft_revision` (the simulator), never both.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="decision_traces"
    )
    flow = models.ForeignKey(SupportFlow, on_delete=models.CASCADE, related_name="decision_traces")
    # Versions are never deleted on their own (only with their flow), so a trace keeps its version.
    flow_version = models.ForeignKey(
        FlowVersion,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="decision_traces",
    )
    draft_revision = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=DecisionSource.choices)
    message = models.TextField()
    outcome = models.CharField(max_length=20)
    reason = models.CharField(max_length=40, blank=True)
    language = models.CharField(max_length=12, blank=True)
    reply = models.TextField(blank=True)
    trace = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=("workspace", "created_at"), name="decision_trace_ws_created"),
        ]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=models.Q(flow_version__isnull=True, draft_revision__isnull=False)
                | models.Q(flow_version__isnull=False, draft_revision__isnull=True),
                name="decision_trace_version_or_draft",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} decision {self.pk}: {self.outcome}"
