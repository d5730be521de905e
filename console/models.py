"""Tenancy and access: users, workspaces, memberships with roles, and workspace API keys."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields: object) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        # People type their email with any capitalisation; addresses are stored lower-cased.
        return self.get(email__iexact=username or "")

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in to the console: an admin, agent or viewer of one or more workspaces."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email


class Workspace(models.Model):
    """The tenant: one company or brand. Every piece of workspace data keys on it."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    AGENT = "agent", "Agent"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """A user's role in a workspace. Agents have a tier (1 or 2) that routing and approvals use."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    tier = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=("workspace", "user"), name="membership_once_per_workspace"
            ),
            models.CheckConstraint(
                condition=(models.Q(role="agent", tier__in=(1, 2)))
                | (~models.Q(role="agent") & models.Q(tier__isnull=True)),
                name="membership_tier_only_for_agents",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.workspace}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def role_label(self) -> str:
        label = Role(self.role).label
        return f"{label}, tier {self.tier}" if self.tier else label


class ApiKey(models.Model):
    """A workspace key for REST clients. Only its SHA-256 digest is stored; it is shown once."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=120)
    # The first characters of the key, kept readable so people can tell their keys apart.
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEntry(models.Model):
    """One change an admin made to how the workspace runs: who, when, what, old and new value.

    `area` groups entries for the audit log's filter (flow settings, rules, queues, publishing,
    actions, approvals, team, test questions); `subject` names the thing changed ("Default flow",
    "queue Tier 2"), `field` the setting or rule within it. Values are JSON, as stored."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_entries")
    user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)
    area = models.CharField(max_length=40)
    subject = models.CharField(max_length=200)
    field = models.CharField(max_length=200, blank=True)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("-at", "-id")
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=("workspace", "-at"), name="audit_workspace_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.area}: {self.subject} {self.field}".strip()
