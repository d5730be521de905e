"""Reads of workspaces, memberships and API keys. Every read is scoped to a workspace or a user."""

from __future__ import annotations

import hashlib

from django.db.models import QuerySet

from console.models import ApiKey, Membership, User, Workspace


def workspaces_for_user(*, user: User) -> QuerySet[Workspace]:
    return Workspace.objects.filter(memberships__user=user).order_by("name")


def membership_for_user(*, user: User, workspace_slug: str) -> Membership | None:
    """The user's membership of the workspace, or None when they are not a member of it."""
    if not user.is_authenticated or not user.is_active:
        return None
    return (
        Membership.objects.select_related("workspace", "user")
        .filter(user=user, workspace__slug=workspace_slug)
        .first()
    )


def memberships_of_workspace(*, workspace: Workspace) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .order_by("role", "user__email")
    )


def api_keys_of_workspace(*, workspace: Workspace) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(workspace=workspace).select_related("created_by")


def api_key_digest(raw_key: str) -> str:
    # Keys are 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_active(*, raw_key: str) -> ApiKey | None:
    """The unrevoked key whose digest matches `raw_key`, with its workspace, or None."""
    return (
        ApiKey.objects.select_related("workspace")
        .filter(digest=api_key_digest(raw_key), revoked_at__isnull=True)
        .first()
    )
