"""Writes for workspaces, memberships and API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from console.audit import Change, audit_record
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


# --- the team: invite, change a role, remove -------------------------------------------------

EMAIL_MAX_LENGTH = 254
PERSON_NAME_MAX_LENGTH = 150


class MemberChangedError(ValidationError):
    """The membership was changed or removed by someone else since the editor loaded it."""


@transaction.atomic
def member_invite(
    *,
    workspace: Workspace,
    email: str,
    role: Role | str,
    tier: int | None = None,
    name: str = "",
    password: str = "",
    by: User | None = None,
) -> Membership:
    """Add a person to the workspace with a role (and tier, for agents). Someone without an
    account gets one with `password` as their initial password; someone who has one (through
    another workspace) keeps theirs. The password is checked either way, so the answer never
    tells an admin whether an address has an account elsewhere."""
    email = _email_checked(email)
    name = name.strip()
    if len(name) > PERSON_NAME_MAX_LENGTH:
        raise ValidationError({"name": f"At most {PERSON_NAME_MAX_LENGTH} characters."})
    role, tier = _role_checked(role, tier)
    try:
        validate_password(password, user=User(email=email, name=name))
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    user = User.objects.filter(email__iexact=email).first()
    if user is not None and Membership.objects.filter(workspace=workspace, user=user).exists():
        raise ValidationError({"email": f"{email} is already a member of this workspace."})
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email=email, password=password, name=name)
        except IntegrityError:  # the same address added at the same moment by someone else
            raise ValidationError(
                {"email": f"{email} was just added by someone else; reload the page."}
            ) from None
    membership = membership_set(workspace=workspace, user=user, role=role, tier=tier)
    _member_audit(membership, by=by, old=None, new=membership.role_label)
    return membership


@transaction.atomic
def member_role_set(
    *,
    membership: Membership,
    role: Role | str,
    tier: int | None = None,
    by: User | None = None,
    expected: tuple[str, int | None] | None = None,
) -> Membership:
    """Change a member's role and tier. The last admin stays an admin, so that somebody can
    still manage the workspace. With `expected` (the role and tier the editor loaded), a change
    someone else saved in between is not overwritten: MemberChangedError."""
    role, tier = _role_checked(role, tier)
    admin_ids = _admin_ids_locked(membership.workspace_id)
    locked = _membership_locked(membership)
    if expected is not None and (locked.role, locked.tier) != expected:
        raise MemberChangedError(
            f"Someone else changed the role of {locked.user.email} since you opened this page: "
            f"they are now {locked.role_label}. Nothing was saved; choose again if needed."
        )
    if locked.pk in admin_ids and role != Role.ADMIN and len(admin_ids) == 1:
        raise ValidationError(
            {
                "role": f"{locked.user.display_name} is the last admin: make someone else an admin "
                "first."
            }
        )
    old = locked.role_label
    locked.role, locked.tier = role, tier
    locked.save(update_fields=["role", "tier"])
    _member_audit(locked, by=by, old=old, new=locked.role_label)
    return locked


@transaction.atomic
def member_remove(*, membership: Membership, by: User | None = None) -> None:
    """Take a person out of the workspace (and its queues); their account stays, for the other
    workspaces they belong to and for the history of what they did. Never the last admin."""
    from routing.models import Queue

    admin_ids = _admin_ids_locked(membership.workspace_id)
    locked = _membership_locked(membership)
    if locked.pk in admin_ids and len(admin_ids) == 1:
        raise ValidationError(
            f"{locked.user.display_name} is the last admin: make someone else an admin first."
        )
    for queue in Queue.objects.filter(workspace_id=locked.workspace_id, members=locked.user):
        queue.members.remove(locked.user)
    _member_audit(locked, by=by, old=locked.role_label, new=None)
    locked.delete()


def _email_checked(email: str) -> str:
    email = User.objects.normalize_email(email.strip()).lower()
    if not email:
        raise ValidationError({"email": "Give the person's email address."})
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            {"email": "Enter an email address such as sam@example.com."}
        ) from None
    if len(email) > EMAIL_MAX_LENGTH:
        raise ValidationError({"email": f"At most {EMAIL_MAX_LENGTH} characters."})
    return email


def _role_checked(role: Role | str, tier: int | None) -> tuple[Role, int | None]:
    if role not in Role.values:
        raise ValidationError({"role": f"The role is one of {', '.join(Role.values)}."})
    role = Role(role)
    if role == Role.AGENT and tier not in (1, 2):
        raise ValidationError({"tier": "An agent's tier must be 1 or 2."})
    if role != Role.AGENT and tier is not None:
        raise ValidationError({"tier": "Only agents have a tier."})
    return role, tier


def _admin_ids_locked(workspace_id: int) -> set[int]:
    # Every admin row is locked: two admins demoting each other at the same moment are served
    # one after the other, and the second sees that only one admin is left.
    return set(
        Membership.objects.select_for_update()
        .filter(workspace_id=workspace_id, role=Role.ADMIN)
        .values_list("pk", flat=True)
    )


def _membership_locked(membership: Membership) -> Membership:
    locked = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "workspace")
        .filter(pk=membership.pk)
        .first()
    )
    if locked is None:
        raise MemberChangedError("This person was removed from the workspace in the meantime.")
    return locked


def _member_audit(
    membership: Membership, *, by: User | None, old: str | None, new: str | None
) -> None:
    audit_record(
        workspace=membership.workspace,
        user=by,
        area="team",
        subject=f"member {membership.user.email}",
        changes=[Change("role", old, new)] if old != new else [],
    )


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
