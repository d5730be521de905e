"""Writes of AI actions: the catalogue, its built-in templates, who may approve each risk level,
the webhook signing secret, and one signed call of an action's webhook.

The rule this module exists to keep: a destructive action never runs without a human. Whatever
asks (the console, the API, a model's tool call), `action_create` and `action_update` refuse the
policy `autonomous` for a destructive action, and the database refuses it too.

Every change here is audited (console.audit, areas "actions" and "approvals") inside its
transaction: who made it, when, and the old and new value.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from console.audit import Change, audit_record, value_changes
from console.models import User, Workspace
from routing.action_parameters import parameter_schema_validate, parameters_validate
from routing.action_templates import ACTION_TEMPLATES
from routing.models import (
    APPROVER_SPECS,
    DEFAULT_APPROVERS,
    Action,
    ActionApprovalPolicy,
    ActionPolicy,
    ActionRisk,
    ActionWebhookSecret,
)
from routing.selectors import FALLBACK_APPROVERS
from routing.webhooks import DEFAULT_TIMEOUT_SECONDS, WebhookResult, webhook_deliver

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")
NAME_MAX_LENGTH = 120
DESCRIPTION_MAX_LENGTH = 1000
PHRASINGS_MAX = 20
PHRASING_MAX_LENGTH = 200
WEBHOOK_URL_MAX_LENGTH = 500
ACTION_FIELDS = frozenset(
    {
        "key",
        "name",
        "description",
        "example_phrasings",
        "parameters",
        "risk",
        "policy",
        "webhook_url",
        "enabled",
    }
)

# The fields an audit entry of an action shows, in the console's order.
AUDITED_ACTION_FIELDS = (
    "key",
    "name",
    "description",
    "example_phrasings",
    "parameters",
    "risk",
    "policy",
    "webhook_url",
    "enabled",
)

DESTRUCTIVE_AUTONOMOUS_ERROR = (
    "A destructive action can never run by itself (autonomous): choose never, suggest or "
    "approval, so that a person decides."
)


class ActionChangedError(ValidationError):
    """The action was changed by someone else since the editor loaded it."""


class ApproversChangedError(ValidationError):
    """Who may approve was changed by someone else since the editor loaded it."""


# --- the catalogue ---------------------------------------------------------------------------


@transaction.atomic
def action_create(
    *,
    workspace: Workspace,
    key: str,
    name: str,
    description: str,
    risk: str,
    policy: str,
    example_phrasings: Sequence[str] = (),
    parameters: dict[str, Any] | None = None,
    webhook_url: str = "",
    enabled: bool = False,
    by: User | None = None,
) -> Action:
    values = _action_values_validate(
        workspace=workspace,
        action_pk=None,
        values={
            "key": key,
            "name": name,
            "description": description,
            "example_phrasings": example_phrasings,
            "parameters": parameters,
            "risk": risk,
            "policy": policy,
            "webhook_url": webhook_url,
            "enabled": enabled,
        },
    )
    action = Action.objects.create(workspace=workspace, **values)
    _action_audit(action, by=by, changes=[Change("action", None, _action_json(action))])
    return action


@transaction.atomic
def action_update(
    *,
    action: Action,
    changes: Mapping[str, Any],
    by: User | None = None,
    expected_updated_at: datetime | None = None,
) -> Action:
    """Change some of an action's fields. The result is validated as a whole: changing only the
    risk to destructive is refused while the policy is autonomous. With `expected_updated_at`
    (when the editor loaded it), a change someone else saved in between is not overwritten:
    ActionChangedError."""
    unknown = set(changes) - ACTION_FIELDS
    if unknown:
        raise ValueError(f"Actions have no field {sorted(unknown)[0]!r}.")
    # Locked, so that two editors changing the risk and the policy at the same moment cannot
    # each pass validation against the other's old value.
    locked = Action.objects.select_for_update().get(pk=action.pk)
    if expected_updated_at is not None and locked.updated_at != expected_updated_at:
        raise ActionChangedError(
            "Someone else changed this action since you opened it. Your changes are not saved: "
            "reload to see theirs, then make yours again."
        )
    before = _action_json(locked)
    current = {field: getattr(locked, field) for field in ACTION_FIELDS}
    values = _action_values_validate(
        workspace=locked.workspace, action_pk=locked.pk, values={**current, **changes}
    )
    for field, value in values.items():
        setattr(locked, field, value)
    locked.save(update_fields=[*values, "updated_at"])
    _action_audit(locked, by=by, changes=value_changes(before, _action_json(locked)))
    return locked


@transaction.atomic
def action_delete(*, action: Action, by: User | None = None) -> None:
    # Requests keep their action (the audit trail says what was run): such an action is disabled
    # rather than deleted.
    if action.requests.exists():
        raise ValidationError(
            "This action was requested in conversations and its audit trail keeps it: disable it "
            "instead of deleting it."
        )
    _action_audit(action, by=by, changes=[Change("action", _action_json(action), None)])
    action.delete()


def _action_json(action: Action) -> dict[str, Any]:
    return {field: getattr(action, field) for field in AUDITED_ACTION_FIELDS}


def _action_audit(action: Action, *, by: User | None, changes: list[Change]) -> None:
    audit_record(
        workspace=action.workspace,
        user=by,
        area="actions",
        subject=f"action {action.key}",
        changes=changes,
    )


def _action_values_validate(
    *, workspace: Workspace, action_pk: int | None, values: dict[str, Any]
) -> dict[str, Any]:
    """Every field checked, each error under its field's name; then the rules across fields."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    checks: dict[str, Callable[[Any], Any]] = {
        "key": lambda value: _key_checked(workspace, action_pk, value),
        "name": _name_checked,
        "description": _description_checked,
        "example_phrasings": _phrasings_checked,
        "parameters": parameter_schema_validate,
        "risk": lambda value: _choice_checked(value, ActionRisk, "risk"),
        "policy": lambda value: _choice_checked(value, ActionPolicy, "policy"),
        "webhook_url": _webhook_url_checked,
        "enabled": _enabled_checked,
    }
    for field, check in checks.items():
        try:
            cleaned[field] = check(values[field])
        except ValidationError as error:
            # The parameter schema's check names its field itself; the others raise bare messages.
            named = hasattr(error, "error_dict")
            errors.update(error.message_dict if named else {field: error.messages})
    for field, message in _cross_field_problems(cleaned).items():
        errors.setdefault(field, []).append(message)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _cross_field_problems(values: dict[str, Any]) -> dict[str, str]:
    """The rules across fields, among the fields that are valid on their own: the destructive
    rule is reported even when, say, the name is missing too."""
    problems: dict[str, str] = {}
    if (values.get("risk"), values.get("policy")) == (
        ActionRisk.DESTRUCTIVE,
        ActionPolicy.AUTONOMOUS,
    ):
        problems["policy"] = DESTRUCTIVE_AUTONOMOUS_ERROR
    if values.get("enabled") and not _webhook_url_is_set(values.get("webhook_url", "")):
        problems["enabled"] = "Set the webhook URL of your backend before enabling this action."
    return problems


def _key_checked(workspace: Workspace, action_pk: int | None, key: Any) -> str:
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise ValidationError(
            "A key is lower-case letters, digits, hyphens and underscores (at most 50), starting "
            "with a letter, e.g. issue_refund."
        )
    clash = Action.objects.filter(workspace=workspace, key=key)
    if action_pk is not None:
        clash = clash.exclude(pk=action_pk)
    if clash.exists():
        raise ValidationError(f"There is already an action with the key {key!r}.")
    return key


def _name_checked(name: Any) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ValidationError(f"Give the action a name of at most {NAME_MAX_LENGTH} characters.")
    return name


def _description_checked(description: Any) -> str:
    description = description.strip() if isinstance(description, str) else ""
    if not description or len(description) > DESCRIPTION_MAX_LENGTH:
        # The AI decides from the description when the action fits; an empty one misleads it.
        raise ValidationError(
            f"Describe what the action does, in at most {DESCRIPTION_MAX_LENGTH} characters."
        )
    return description


def _phrasings_checked(phrasings: Any) -> list[str]:
    if phrasings is None:
        return []
    if isinstance(phrasings, str) or not isinstance(phrasings, Sequence):
        raise ValidationError("Give the example phrasings as a list of texts.")
    if len(phrasings) > PHRASINGS_MAX:
        raise ValidationError(f"At most {PHRASINGS_MAX} example phrasings.")
    cleaned: list[str] = []
    for position, phrasing in enumerate(phrasings, start=1):
        text = phrasing.strip() if isinstance(phrasing, str) else ""
        if not text or len(text) > PHRASING_MAX_LENGTH:
            raise ValidationError(
                f"Example phrasing {position} must be a text of 1 to {PHRASING_MAX_LENGTH} "
                "characters."
            )
        if text.casefold() not in {seen.casefold() for seen in cleaned}:
            cleaned.append(text)
    return cleaned


def _choice_checked(value: Any, choices: type[ActionRisk] | type[ActionPolicy], name: str) -> str:
    if value not in choices.values:
        raise ValidationError(f"The {name} is one of {', '.join(choices.values)}.")
    return str(value)


def _webhook_url_checked(url: Any) -> str:
    if url is None or url == "":
        return ""
    if not isinstance(url, str) or len(url) > WEBHOOK_URL_MAX_LENGTH:
        raise ValidationError(f"A URL of at most {WEBHOOK_URL_MAX_LENGTH} characters.")
    url = url.strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValidationError(
            "The webhook URL must be an http:// or https:// address of your backend."
        ) from None
    return url


def _enabled_checked(enabled: Any) -> bool:
    if not isinstance(enabled, bool):
        raise ValidationError("Enabled is true or false.")
    return enabled


def _webhook_url_is_set(url: str) -> bool:
    """Whether the URL is the admin's: not empty, and not a template's placeholder (templates use
    the reserved .invalid domain, which never resolves)."""
    host = urlsplit(url).hostname or ""
    return bool(host) and not host.endswith(".invalid")


# --- templates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplatesInstalled:
    actions: list[Action]  # every template's action, in the templates' order
    created: list[Action]  # those this call installed


@transaction.atomic
def action_templates_install(*, workspace: Workspace, by: User | None = None) -> TemplatesInstalled:
    """Install the built-in actions the workspace lacks (by key), disabled. An action that already
    has a template's key, edited or not, is left as it is: installing again changes nothing."""
    installed: list[Action] = []
    created: list[Action] = []
    for template in ACTION_TEMPLATES:
        action = Action.objects.filter(workspace=workspace, key=template.key).first()
        if action is None:
            action = action_create(
                workspace=workspace,
                key=template.key,
                name=template.name,
                description=template.description,
                risk=template.risk,
                policy=template.policy,
                example_phrasings=template.example_phrasings,
                parameters=template.parameters,
                webhook_url=template.placeholder_webhook_url,
                enabled=False,
                by=by,
            )
            created.append(action)
        installed.append(action)
    return TemplatesInstalled(actions=installed, created=created)


# --- approval policies -----------------------------------------------------------------------


def action_approval_policies_create_default(*, workspace: Workspace) -> None:
    """Give the workspace the default approvers for every risk level it has none for yet."""
    for risk, approvers in DEFAULT_APPROVERS.items():
        ActionApprovalPolicy.objects.get_or_create(
            workspace=workspace, risk=risk, defaults={"approvers": list(approvers)}
        )


@transaction.atomic
def action_approval_policy_update(
    *,
    workspace: Workspace,
    risk: str,
    approvers: Sequence[str],
    updated_by: User | None = None,
) -> ActionApprovalPolicy:
    """Set who may approve the actions of one risk level (audited as `updated_by`'s change)."""
    if risk not in ActionRisk.values:
        raise ValidationError({"risk": f"The risk is one of {', '.join(ActionRisk.values)}."})
    cleaned = approvers_validate(risk=risk, approvers=approvers)
    before = (
        ActionApprovalPolicy.objects.select_for_update()
        .filter(workspace=workspace, risk=risk)
        .values_list("approvers", flat=True)
        .first()
    )
    policy, _ = ActionApprovalPolicy.objects.update_or_create(
        workspace=workspace,
        risk=risk,
        defaults={"approvers": cleaned, "updated_by": updated_by},
    )
    audit_record(
        workspace=workspace,
        user=updated_by,
        area="approvals",
        subject=f"{ActionRisk(risk).label.lower()} actions",
        changes=[Change("approvers", before, cleaned)] if before != cleaned else [],
    )
    return policy


@transaction.atomic
def action_approval_policies_update(
    *,
    workspace: Workspace,
    approvers_by_risk: Mapping[str, Sequence[str]],
    updated_by: User | None = None,
    expected_by_risk: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Set the approvers of several risk levels at once, all or nothing. Errors are keyed by
    the risk level at fault. With `expected_by_risk` (the approvers the editor loaded), a change
    someone else saved in between is not overwritten: ApproversChangedError."""
    if expected_by_risk is not None:
        _approvers_unchanged_check(workspace, expected_by_risk)
    errors: dict[str, list[str]] = {}
    for risk, approvers in approvers_by_risk.items():
        try:
            action_approval_policy_update(
                workspace=workspace, risk=risk, approvers=approvers, updated_by=updated_by
            )
        except ValidationError as error:
            errors[str(risk)] = [
                message for messages in error.message_dict.values() for message in messages
            ]
    if errors:
        # Raising inside the atomic block undoes the levels that were valid, too.
        raise ValidationError(errors)


def _approvers_unchanged_check(
    workspace: Workspace, expected_by_risk: Mapping[str, Sequence[str]]
) -> None:
    # Locks the stored levels, so that a second editor waits here and then sees the first's change.
    stored = dict(
        ActionApprovalPolicy.objects.select_for_update()
        .filter(workspace=workspace)
        .values_list("risk", "approvers")
    )
    for risk, expected in expected_by_risk.items():
        if list(stored.get(risk, FALLBACK_APPROVERS)) != list(expected):
            raise ApproversChangedError(
                "Someone else changed who may approve since you opened this page. Nothing was "
                "saved: reload to see their change, then make yours again."
            )


def approvers_validate(*, risk: str, approvers: Any) -> list[str]:
    """The approvers in the console's order, without repeats; a ValidationError on `approvers`."""
    if isinstance(approvers, str) or not isinstance(approvers, Sequence):
        raise ValidationError({"approvers": 'Give the approvers as a list, e.g. ["admin"].'})
    for spec in approvers:
        if spec == "agent":
            raise ValidationError({"approvers": 'Name the agents\' tier: "agent:1" or "agent:2".'})
        if spec not in APPROVER_SPECS:
            raise ValidationError(
                {"approvers": f"{spec!r} is not a role; use {', '.join(APPROVER_SPECS)}."}
            )
    if not approvers:
        raise ValidationError(
            {"approvers": "Somebody must be able to approve; requests would wait for ever."}
        )
    if risk == ActionRisk.DESTRUCTIVE and "viewer" in approvers:
        raise ValidationError({"approvers": "Viewers can never approve destructive actions."})
    return [spec for spec in APPROVER_SPECS if spec in approvers]


# --- calls -----------------------------------------------------------------------------------


def action_parameters_validate(action: Action, params: Any) -> dict[str, Any]:
    """One call's parameters checked against the action's schema; a ValidationError keyed by
    parameter names the problems ("amount": "Must be at most 10000.")."""
    return parameters_validate(action.parameters or {}, params)


# --- webhooks --------------------------------------------------------------------------------


def action_webhook_secret_get_or_create(*, workspace: Workspace) -> ActionWebhookSecret:
    secret, _ = ActionWebhookSecret.objects.get_or_create(
        workspace=workspace, defaults={"secret": secrets.token_urlsafe(32)}
    )
    return secret


@transaction.atomic
def action_webhook_secret_rotate(
    *, workspace: Workspace, by: User | None = None
) -> ActionWebhookSecret:
    """A new signing secret, used from the next call on. The old one stops working at once, so
    the company must update their backend right after (or during a short outage of actions).
    The audit entry says who rotated it and when, never the secret."""
    existed = ActionWebhookSecret.objects.filter(workspace=workspace).exists()
    secret = action_webhook_secret_get_or_create(workspace=workspace)
    secret = ActionWebhookSecret.objects.select_for_update().get(pk=secret.pk)
    secret.secret = secrets.token_urlsafe(32)
    secret.rotated_at = timezone.now()
    secret.save(update_fields=["secret", "rotated_at"])
    audit_record(
        workspace=workspace,
        user=by,
        area="actions",
        subject="webhook signing secret",
        changes=[
            Change(
                "secret",
                "previous secret (not shown)" if existed else None,
                "new secret (not shown)",
            )
        ],
    )
    return secret


def action_webhook_send(
    *,
    action_id: int,
    payload: dict[str, Any],
    idempotency_key: str,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> WebhookResult:
    """Call the action's webhook once, signed with the workspace's secret. The body is
    {"action": <key>, "workspace": <slug>, "data": payload}. An action deleted or disabled since
    the call was queued is not called: a disabled action must not run, even on a retry.

    This checks no policy: it runs what it is given. Only the service that decided a request may
    run (its policy allowed it, or an allowed approver approved it) may queue the call."""
    action = Action.objects.select_related("workspace").filter(pk=action_id).first()
    if action is None:
        return WebhookResult.failure("action deleted", retryable=False)
    if not action.enabled:
        return WebhookResult.failure("action disabled", retryable=False)
    secret = action_webhook_secret_get_or_create(workspace=action.workspace)
    body = {"action": action.key, "workspace": action.workspace.slug, "data": payload}
    return webhook_deliver(
        url=action.webhook_url,
        secret=secret.secret,
        payload=body,
        idempotency_key=idempotency_key,
        timeout=timeout,
    )
