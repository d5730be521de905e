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


# --- AI actions ------------------------------------------------------------------------------


class ActionRisk(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    DESTRUCTIVE = "destructive", "Destructive"


class ActionPolicy(models.TextChoices):
    """What the AI may do with an action."""

    NEVER = "never", "Never"
    SUGGEST = "suggest", "Suggest to an agent"
    APPROVAL = "approval", "Run after an agent approves"
    AUTONOMOUS = "autonomous", "Run by itself"


class Action(models.Model):
    """Something the AI can do in the company's backend, through a signed webhook.

    A destructive action never runs without a human: routing.actions refuses the policy
    `autonomous` for it, and the database refuses it too, whatever wrote the row.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="actions")
    # The name the AI and API clients call it by (a tool name for an LLM).
    key = models.SlugField(max_length=50)
    name = models.CharField(max_length=120)
    description = models.TextField(max_length=1000)
    example_phrasings = models.JSONField(default=list, blank=True)
    # The parameters a call carries: routing.actions.parameter_schema_validate's JSON-Schema subset.
    parameters = models.JSONField(default=dict, blank=True)
    risk = models.CharField(max_length=12, choices=ActionRisk.choices)
    policy = models.CharField(max_length=12, choices=ActionPolicy.choices)
    webhook_url = models.URLField(max_length=500, blank=True)
    enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=("workspace", "key"), name="action_key_unique"),
            models.CheckConstraint(
                condition=models.Q(risk__in=ActionRisk.values), name="action_risk_known"
            ),
            models.CheckConstraint(
                condition=models.Q(policy__in=ActionPolicy.values), name="action_policy_known"
            ),
            models.CheckConstraint(
                condition=~models.Q(risk=ActionRisk.DESTRUCTIVE, policy=ActionPolicy.AUTONOMOUS),
                name="action_destructive_never_autonomous",
            ),
        ]

    def __str__(self) -> str:
        return self.name


# Who may approve: "admin", an agent of a tier ("agent:2", "agent:1"), or "viewer". Listed in
# the order the console shows them, most trusted first.
APPROVER_SPECS = ("admin", "agent:2", "agent:1", "viewer")
DEFAULT_APPROVERS: dict[str, list[str]] = {
    ActionRisk.READ: ["admin", "agent:2", "agent:1"],
    ActionRisk.WRITE: ["admin", "agent:2"],
    ActionRisk.DESTRUCTIVE: ["admin"],
}


class ActionApprovalPolicy(models.Model):
    """Which roles and agent tiers may approve the actions of one risk level, per workspace.

    Every workspace has one row per risk level from its creation on (routing.actions), so that a
    later change of the defaults in code never silently changes who approves in a workspace.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="action_approval_policies"
    )
    risk = models.CharField(max_length=12, choices=ActionRisk.choices)
    approvers = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ("workspace", "risk")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=("workspace", "risk"), name="action_approval_policy_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(risk__in=ActionRisk.values),
                name="action_approval_policy_risk_known",
            ),
            # Nobody able to approve would leave requests pending forever; and a viewer (who may
            # change nothing) approving the deletion of a customer's account is never right.
            models.CheckConstraint(
                condition=~models.Q(approvers=[]), name="action_approval_policy_has_approver"
            ),
            models.CheckConstraint(
                condition=~models.Q(risk=ActionRisk.DESTRUCTIVE, approvers__contains=["viewer"]),
                name="action_approval_policy_no_viewer_for_destructive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_risk_display()} actions: {', '.join(self.approvers)}"


class ActionWebhookSecret(models.Model):
    """The key a workspace's action webhooks are signed with (HMAC-SHA256).

    Stored as is, not hashed: signing needs the key itself. Made on first use, rotated by admins.
    """

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="action_webhook_secret"
    )
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Webhook secret of {self.workspace}"


class TestQuestion(models.Model):
    """A saved question the admin runs the draft against before publishing: one conversation's
    customer turns, the customer's attributes, and what should happen (the case format of the
    evaluation data: answer with one of the expected articles cited first, or hand off)."""

    __test__ = False  # not a pytest test class, whatever its name says

    class Outcome(models.TextChoices):
        ANSWER = "answer", "Answer"
        HANDOFF = "handoff", "Hand off"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="test_questions"
    )
    name = models.CharField(max_length=120)
    turns = models.JSONField(default=list)
    customer = models.JSONField(default=dict, blank=True)
    expected_outcome = models.CharField(max_length=10, choices=Outcome.choices)
    expected_articles = models.JSONField(default=list, blank=True)
    expected_language = models.CharField(max_length=12, blank=True)
    expected_reason = models.CharField(max_length=40, blank=True)
    expected_priority = models.CharField(max_length=12, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=("workspace", "name"), name="test_question_name_once_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name
