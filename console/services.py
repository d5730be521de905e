"""Writes for workspaces, memberships and API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from console.models import ApiKey, Membership, Role, User, Workspace
from console.selectors import api_key_digest

API_KEY_PREFIX = "sck_"
# last_used_at is informational; writing it on every request would turn reads into writes.
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


@transaction.atomic
def workspace_create(*, name: str, slug: str | None = None) -> Workspace:
    """A new workspace, with its default support flow already published so that it answers."""
    from routing.services import flow_create_default

    name = name.strip()
    if not name:
        raise ValidationError({"name": "A workspace needs a name."})
    slug = slugify(slug or name)[:60]
    if not slug:
        raise ValidationError({"slug": "The workspace address must contain letters or digits."})
    if Workspace.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A workspace with the address {slug!r} already exists."})
    workspace = Workspace.objects.create(name=name, slug=slug)
    flow_create_default(workspace=workspace)
    return workspace


def workspace_get_or_create(*, slug: str, name: str | None = None) -> tuple[Workspace, bool]:
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is not None:
        return workspace, False
    return workspace_create(name=name or slug, slug=slug), True


def membership_set(
    *, workspace: Workspace, user: User, role: Role | str, tier: int | None = None
) -> Membership:
    """Give `user` a role in `workspace` (creating or changing the membership)."""
    role = Role(role)
    if role == Role.AGENT and tier not in (1, 2):
        raise ValidationError({"tier": "An agent's tier must be 1 or 2."})
    if role != Role.AGENT and tier is not None:
        raise ValidationError({"tier": "Only agents have a tier."})
    membership, _ = Membership.objects.update_or_create(
        workspace=workspace, user=user, defaults={"role": role, "tier": tier}
    )
    return membership


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    raw_key: str  # shown to the person once, never stored


def api_key_create(
    *, workspace: Workspace, name: str, created_by: User | None = None
) -> IssuedApiKey:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the key a name, such as the system that will use it."})
    if len(name) > ApiKey._meta.get_field("name").max_length:  # type: ignore[operator]
        raise ValidationError({"name": "The name is too long (120 characters at most)."})
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        workspace=workspace,
        name=name,
        prefix=raw_key[:10],
        digest=api_key_digest(raw_key),
        created_by=created_by,
    )
    return IssuedApiKey(api_key=api_key, raw_key=raw_key)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_record_use(*, api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
        api_key.last_used_at = now
        api_key.save(update_fields=["last_used_at"])


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str


DEMO_WORKSPACE_SLUG = "demo"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - a published demo login, not a secret
DEMO_PEOPLE = (
    ("admin@demo.example", "Ada Admin", Role.ADMIN, None),
    ("agent1@demo.example", "Tom Tier-One", Role.AGENT, 1),
    ("agent2@demo.example", "Tess Tier-Two", Role.AGENT, 2),
)


@transaction.atomic
def demo_workspace_setup() -> tuple[Workspace, list[DemoLogin]]:
    """Create the demo workspace and its people, or bring them back to the demo state."""
    workspace, _ = workspace_get_or_create(slug=DEMO_WORKSPACE_SLUG, name="Demo Co")
    logins = []
    for email, name, role, tier in DEMO_PEOPLE:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name)
        elif not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        membership_set(workspace=workspace, user=user, role=role, tier=tier)
        label = f"{Role(role).label}" + (f" (tier {tier})" if tier else "")
        logins.append(DemoLogin(email=email, password=DEMO_PASSWORD, role=label))
    return workspace, logins
