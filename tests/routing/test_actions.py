"""AI actions and their permission controls: the catalogue and its validation, the rule that a
destructive action never runs by itself (service, API and database), the templates, who may
approve each risk level, and the check of one call's parameters."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from console.models import Membership, Role
from console.services import api_key_create, membership_set, workspace_create
from routing.action_templates import ACTION_TEMPLATES
from routing.actions import (
    DESTRUCTIVE_AUTONOMOUS_ERROR,
    action_approval_policy_update,
    action_create,
    action_delete,
    action_parameters_validate,
    action_templates_install,
    action_update,
)
from routing.models import Action, ActionApprovalPolicy, ActionPolicy, ActionRisk
from routing.selectors import action_approval_policies_of_workspace, may_approve
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

REFUND_PARAMETERS = {
    "type": "object",
    "properties": {
        "amount": {"type": "number", "minimum": 0.01, "maximum": 500},
        "currency": {"type": "string", "enum": ["USD", "EUR"]},
        "reason": {"type": "string", "maxLength": 20, "description": "Why"},
        "full": {"type": "boolean"},
        "items": {"type": "integer", "minimum": 1},
    },
    "required": ["amount", "currency"],
}


def refund_fields(**overrides) -> dict:
    return {
        "key": "issue_refund",
        "name": "Issue refund",
        "description": "Refund a payment to the original payment method.",
        "risk": "write",
        "policy": "approval",
        "example_phrasings": ["I want a refund", "Refund me please"],
        "parameters": REFUND_PARAMETERS,
        **overrides,
    }


def errors_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return excinfo.value.message_dict


# --- the catalogue --------------------------------------------------------------------------


def test_an_action_is_stored_tidied_and_disabled_by_default(workspace):
    action = action_create(
        workspace=workspace,
        **refund_fields(
            name="  Issue refund ",
            example_phrasings=[" I want a refund", "i want a REFUND", "Money back"],
        ),
    )

    assert action.name == "Issue refund" and not action.enabled
    assert action.example_phrasings == ["I want a refund", "Money back"]
    assert action.parameters["additionalProperties"] is False
    assert list(action.parameters["properties"]) == list(REFUND_PARAMETERS["properties"])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("key", "Issue Refund", "lower-case letters"),
        ("key", "1refund", "starting with a letter"),
        ("key", "k" * 51, "at most 50"),
        ("name", "   ", "name of at most 120"),
        ("name", "n" * 121, "name of at most 120"),
        ("description", "", "Describe what the action does"),
        ("description", "d" * 1001, "at most 1000"),
        ("example_phrasings", "refund", "list of texts"),
        ("example_phrasings", ["fine", "  "], "Example phrasing 2"),
        ("example_phrasings", ["fine", 7], "Example phrasing 2"),
        ("example_phrasings", [f"phrase {n}" for n in range(21)], "At most 20"),
        ("parameters", [], "JSON object"),
        ("parameters", {"type": "array"}, '"type": "object"'),
        ("parameters", {"properties": {"n": {"type": "money"}}}, "properties.n.type: one of"),
        ("parameters", {"properties": {"n": {"type": "integer", "maxLength": 3}}}, "maxLength"),
        ("parameters", {"properties": {"s": {"type": "string", "pattern": "x"}}}, "s.pattern"),
        (
            "parameters",
            {"properties": {"n": {"type": "number", "minimum": 5, "maximum": 1}}},
            "n.minimum: must not be greater than maximum",
        ),
        ("parameters", {"properties": {"n": {"type": "number", "enum": ["a"]}}}, "n.enum"),
        ("parameters", {"properties": {"x": {"type": "string"}}, "required": ["y"]}, "'y'"),
        ("parameters", {"properties": {"9lives": {"type": "string"}}}, "properties.9lives"),
        ("parameters", {"properties": {}, "additionalProperties": True}, "additionalProperties"),
        ("parameters", {"properties": {}, "$schema": "x"}, "unknown key '$schema'"),
        ("risk", "dangerous", "read, write, destructive"),
        ("policy", "sometimes", "never, suggest, approval, autonomous"),
        ("webhook_url", "ftp://backend.example.com/hook", "http:// or https://"),
        ("webhook_url", "javascript:alert(1)", "http:// or https://"),
        ("webhook_url", "https://", "http:// or https://"),
    ],
)
def test_each_invalid_field_is_refused_with_a_message_under_its_name(
    workspace, field, value, message
):
    with pytest.raises(ValidationError) as excinfo:
        action_create(workspace=workspace, **refund_fields(**{field: value}))

    assert list(errors_of(excinfo)) == [field]
    assert message in " ".join(errors_of(excinfo)[field])
    assert not Action.objects.exists()


def test_every_invalid_field_is_reported_at_once(workspace):
    with pytest.raises(ValidationError) as excinfo:
        action_create(
            workspace=workspace,
            **refund_fields(
                name="", webhook_url="gopher://x", risk="destructive", policy="autonomous"
            ),
        )

    assert set(errors_of(excinfo)) == {"name", "webhook_url", "policy"}


def test_a_key_is_unique_in_its_workspace_only(workspace, other_workspace):
    action_create(workspace=workspace, **refund_fields())
    action_create(workspace=other_workspace, **refund_fields())

    with pytest.raises(ValidationError) as excinfo:
        action_create(workspace=workspace, **refund_fields(name="Another"))

    assert "already an action with the key 'issue_refund'" in errors_of(excinfo)["key"][0]


@pytest.mark.parametrize("url", ["", "https://your-backend.example.invalid/support-actions/x"])
def test_an_action_cannot_be_enabled_without_the_backends_webhook_url(workspace, url):
    with pytest.raises(ValidationError) as excinfo:
        action_create(workspace=workspace, **refund_fields(webhook_url=url, enabled=True))

    assert "Set the webhook URL" in errors_of(excinfo)["enabled"][0]


def test_an_update_changes_only_the_given_fields_and_is_validated_whole(workspace):
    action = action_create(workspace=workspace, **refund_fields())

    updated = action_update(
        action=action, changes={"webhook_url": "https://api.acme.example/hooks", "enabled": True}
    )
    with pytest.raises(ValidationError) as excinfo:
        action_update(action=action, changes={"webhook_url": ""})

    assert updated.enabled and updated.name == "Issue refund"
    assert "enabled" in errors_of(excinfo)
    action.refresh_from_db()
    assert action.webhook_url == "https://api.acme.example/hooks"


def test_delete_removes_the_action(workspace):
    action = action_create(workspace=workspace, **refund_fields())

    action_delete(action=action)

    assert not Action.objects.filter(workspace=workspace).exists()


# --- a destructive action never runs by itself ----------------------------------------------


def test_the_service_refuses_a_destructive_autonomous_action(workspace):
    with pytest.raises(ValidationError) as excinfo:
        action_create(
            workspace=workspace,
            **refund_fields(key="delete_account", risk="destructive", policy="autonomous"),
        )

    assert list(errors_of(excinfo)) == ["policy"]
    assert "never run by itself" in errors_of(excinfo)["policy"][0]
    assert not Action.objects.exists()


@pytest.mark.parametrize(
    ("start", "change"),
    [
        ({"risk": "destructive", "policy": "approval"}, {"policy": "autonomous"}),
        ({"risk": "write", "policy": "autonomous"}, {"risk": "destructive"}),
    ],
)
def test_an_update_cannot_make_a_destructive_action_autonomous(workspace, start, change):
    action = action_create(workspace=workspace, **refund_fields(**start))

    with pytest.raises(ValidationError) as excinfo:
        action_update(action=action, changes=change)

    assert list(errors_of(excinfo)) == ["policy"]
    action.refresh_from_db()
    assert (action.risk, action.policy) == (start["risk"], start["policy"])


def test_the_database_refuses_a_destructive_autonomous_action_written_around_the_service(
    workspace,
):
    with (
        pytest.raises(IntegrityError, match="action_destructive_never_autonomous"),
        transaction.atomic(),
    ):
        Action.objects.create(
            workspace=workspace,
            key="delete_account",
            name="Delete account",
            description="Delete it.",
            risk=ActionRisk.DESTRUCTIVE,
            policy=ActionPolicy.AUTONOMOUS,
        )
    action = action_create(workspace=workspace, **refund_fields(risk="destructive"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Action.objects.filter(pk=action.pk).update(policy=ActionPolicy.AUTONOMOUS)


# --- templates ------------------------------------------------------------------------------


def test_templates_install_six_disabled_actions_awaiting_a_webhook_url(workspace):
    installed = action_templates_install(workspace=workspace)

    actions = {action.key: action for action in installed.created}
    assert list(actions) == [
        "send_password_reset",
        "export_data_csv",
        "add_seat",
        "issue_refund",
        "cancel_subscription",
        "delete_account",
    ]
    assert all(not action.enabled for action in actions.values())
    assert all(".example.invalid/" in action.webhook_url for action in actions.values())
    assert all(len(action.example_phrasings) >= 3 for action in actions.values())
    assert {key: (a.risk, a.policy) for key, a in actions.items()} == {
        "send_password_reset": ("write", "autonomous"),
        "export_data_csv": ("read", "approval"),
        "add_seat": ("write", "approval"),
        "issue_refund": ("write", "approval"),
        "cancel_subscription": ("destructive", "approval"),
        "delete_account": ("destructive", "approval"),
    }
    assert actions["issue_refund"].parameters["required"] == ["amount", "currency", "reason"]


def test_installing_templates_again_changes_nothing_and_restores_only_what_is_missing(workspace):
    first = action_templates_install(workspace=workspace)
    refund = Action.objects.get(workspace=workspace, key="issue_refund")
    action_update(action=refund, changes={"name": "Refund (max 100)", "policy": "suggest"})
    Action.objects.get(workspace=workspace, key="delete_account").delete()

    second = action_templates_install(workspace=workspace)
    third = action_templates_install(workspace=workspace)

    assert len(first.created) == 6
    assert [action.key for action in second.created] == ["delete_account"]
    assert third.created == [] and len(third.actions) == 6
    refund.refresh_from_db()
    assert (refund.name, refund.policy) == ("Refund (max 100)", "suggest")
    assert Action.objects.filter(workspace=workspace).count() == 6


def test_a_template_runs_once_its_webhook_url_is_set(workspace):
    action_templates_install(workspace=workspace)
    reset = Action.objects.get(workspace=workspace, key="send_password_reset")

    enabled = action_update(
        action=reset,
        changes={"webhook_url": "https://api.acme.example/reset", "enabled": True},
    )

    assert enabled.enabled


# --- approval policies ----------------------------------------------------------------------


def approvers_of(workspace) -> dict[str, list[str]]:
    return {p.risk: p.approvers for p in action_approval_policies_of_workspace(workspace=workspace)}


def test_a_new_workspace_has_the_default_approvers():
    workspace = workspace_create(name="Initech")

    assert approvers_of(workspace) == {
        "read": ["admin", "agent:2", "agent:1"],
        "write": ["admin", "agent:2"],
        "destructive": ["admin"],
    }
    assert ActionApprovalPolicy.objects.filter(workspace=workspace).count() == 3


def test_an_approval_policy_update_is_stored_in_order_without_repeats(workspace, admin):
    policy = action_approval_policy_update(
        workspace=workspace,
        risk="destructive",
        approvers=["agent:2", "admin", "agent:2"],
        updated_by=admin,
    )

    assert policy.approvers == ["admin", "agent:2"] and policy.updated_by == admin
    assert approvers_of(workspace)["destructive"] == ["admin", "agent:2"]


@pytest.mark.parametrize(
    ("risk", "approvers", "field", "message"),
    [
        ("destructive", ["admin", "viewer"], "approvers", "Viewers can never approve destructive"),
        ("write", [], "approvers", "Somebody must be able to approve"),
        ("write", ["agent"], "approvers", '"agent:1" or "agent:2"'),
        ("write", ["root"], "approvers", "'root' is not a role"),
        ("write", "admin", "approvers", "as a list"),
        ("severe", ["admin"], "risk", "read, write, destructive"),
    ],
)
def test_an_invalid_approval_policy_is_refused(workspace, risk, approvers, field, message):
    with pytest.raises(ValidationError) as excinfo:
        action_approval_policy_update(workspace=workspace, risk=risk, approvers=approvers)

    assert message in errors_of(excinfo)[field][0]
    assert approvers_of(workspace)["write"] == ["admin", "agent:2"]


def test_a_viewer_may_approve_read_actions_if_an_admin_says_so(workspace):
    policy = action_approval_policy_update(
        workspace=workspace, risk="read", approvers=["admin", "viewer"]
    )

    assert policy.approvers == ["admin", "viewer"]


@pytest.mark.parametrize(
    ("approvers", "constraint"),
    [
        (["admin", "viewer"], "action_approval_policy_no_viewer_for_destructive"),
        ([], "action_approval_policy_has_approver"),
    ],
)
def test_the_database_refuses_a_viewer_or_nobody_approving_destructive_actions(
    workspace, approvers, constraint
):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        ActionApprovalPolicy.objects.filter(workspace=workspace, risk="destructive").update(
            approvers=approvers
        )


# --- may_approve ----------------------------------------------------------------------------


def member(workspace, role: Role, tier: int | None = None) -> Membership:
    email = f"{role}{tier or ''}@{workspace.slug}.example"
    return membership_set(workspace=workspace, user=make_user(email), role=role, tier=tier)


PEOPLE = {
    "admin": (Role.ADMIN, None),
    "agent:2": (Role.AGENT, 2),
    "agent:1": (Role.AGENT, 1),
    "viewer": (Role.VIEWER, None),
}


@pytest.mark.parametrize(
    ("person", "read", "write", "destructive"),
    [
        ("admin", True, True, True),
        ("agent:2", True, True, False),
        ("agent:1", True, False, False),
        ("viewer", False, False, False),
    ],
)
def test_who_may_approve_each_risk_by_default(workspace, person, read, write, destructive):
    membership = member(workspace, *PEOPLE[person])

    allowed = {
        risk: may_approve(membership=membership, risk=risk, workspace=workspace)
        for risk in ("read", "write", "destructive")
    }

    assert allowed == {"read": read, "write": write, "destructive": destructive}


def test_who_may_approve_follows_the_workspaces_policy(workspace):
    tier_one, tier_two = member(workspace, Role.AGENT, 1), member(workspace, Role.AGENT, 2)
    admin, viewer = member(workspace, Role.ADMIN), member(workspace, Role.VIEWER)
    action_approval_policy_update(workspace=workspace, risk="destructive", approvers=["agent:2"])
    action_approval_policy_update(workspace=workspace, risk="write", approvers=["viewer"])

    def destructive(membership):
        return may_approve(membership=membership, risk="destructive", workspace=workspace)

    assert destructive(tier_two) and not destructive(admin) and not destructive(tier_one)
    assert may_approve(membership=viewer, risk="write", workspace=workspace)
    assert not may_approve(membership=tier_two, risk="write", workspace=workspace)


def test_nobody_from_another_workspace_nor_for_an_unknown_risk_may_approve(
    workspace, other_workspace
):
    their_admin = member(other_workspace, Role.ADMIN)
    our_admin = member(workspace, Role.ADMIN)

    assert not may_approve(membership=their_admin, risk="read", workspace=workspace)
    assert not may_approve(membership=our_admin, risk="catastrophic", workspace=workspace)


def test_without_a_stored_policy_only_admins_may_approve(workspace):
    ActionApprovalPolicy.objects.filter(workspace=workspace, risk="read").delete()
    tier_two, admin = member(workspace, Role.AGENT, 2), member(workspace, Role.ADMIN)

    assert not may_approve(membership=tier_two, risk="read", workspace=workspace)
    assert may_approve(membership=admin, risk="read", workspace=workspace)
    assert approvers_of(workspace)["read"] == ["admin"]


# --- one call's parameters ------------------------------------------------------------------


@pytest.fixture
def refund(workspace) -> Action:
    return action_create(workspace=workspace, **refund_fields())


def test_valid_parameters_come_back_checked(refund):
    cleaned = action_parameters_validate(
        refund, {"amount": 19.99, "currency": "EUR", "items": 2.0, "full": False}
    )

    assert cleaned == {"amount": 19.99, "currency": "EUR", "full": False, "items": 2}
    assert isinstance(cleaned["items"], int)


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"currency": "EUR"}, {"amount": "This parameter is required."}),
        ({"amount": 5, "currency": "EUR", "iban": "x"}, {"iban": "Unknown parameter"}),
        ({"amount": "5", "currency": "EUR"}, {"amount": "Must be a number."}),
        ({"amount": True, "currency": "EUR"}, {"amount": "Must be a number."}),
        ({"amount": float("nan"), "currency": "EUR"}, {"amount": "Must be a number."}),
        ({"amount": 501, "currency": "EUR"}, {"amount": "Must be at most 500."}),
        ({"amount": 0, "currency": "EUR"}, {"amount": "Must be at least 0.01."}),
        ({"amount": 5, "currency": "JPY"}, {"currency": "Must be one of USD, EUR."}),
        ({"amount": 5, "currency": "EUR", "reason": "r" * 21}, {"reason": "At most 20"}),
        ({"amount": 5, "currency": "EUR", "full": "yes"}, {"full": "Must be a boolean."}),
        ({"amount": 5, "currency": "EUR", "items": 1.5}, {"items": "Must be an integer."}),
        ([5, "EUR"], {"parameters": "as an object"}),
    ],
)
def test_invalid_parameters_are_refused_naming_each_parameter(refund, params, errors):
    with pytest.raises(ValidationError) as excinfo:
        action_parameters_validate(refund, params)

    found = errors_of(excinfo)
    assert set(found) == set(errors)
    for name, message in errors.items():
        assert message in found[name][0]


def test_a_string_without_max_length_is_still_bounded(workspace):
    note = action_create(
        workspace=workspace,
        **refund_fields(key="note", parameters={"properties": {"text": {"type": "string"}}}),
    )

    with pytest.raises(ValidationError, match="At most 2000"):
        action_parameters_validate(note, {"text": "x" * 2001})


def test_every_template_accepts_a_sensible_call(workspace):
    action_templates_install(workspace=workspace)
    calls = {
        "send_password_reset": {"email": "ana@example.com"},
        "export_data_csv": {"dataset": "invoices", "period_days": 90},
        "add_seat": {"seats": 2},
        "issue_refund": {"amount": 49, "currency": "USD", "reason": "Charged twice"},
        "cancel_subscription": {"when": "end_of_period"},
        "delete_account": {},
    }

    for template in ACTION_TEMPLATES:
        action = Action.objects.get(workspace=workspace, key=template.key)
        assert action_parameters_validate(action, calls[template.key]) == calls[template.key]


# --- property: no sequence of changes breaks the rules --------------------------------------

RISKS = st.sampled_from([*ActionRisk.values, "unknown"])
POLICIES = st.sampled_from([*ActionPolicy.values, "sometimes"])
APPROVERS = st.lists(st.sampled_from(["admin", "agent:2", "agent:1", "viewer", "agent"]))
KEYS = st.sampled_from(["refund", "cancel", "delete"])
OPERATIONS = st.one_of(
    st.tuples(st.just("create"), KEYS, RISKS, POLICIES, st.booleans()),
    st.tuples(
        st.just("update"),
        KEYS,
        st.fixed_dictionaries({}, optional={"risk": RISKS, "policy": POLICIES}),
    ),
    st.tuples(st.just("policy"), RISKS, APPROVERS),
)


def intended_risk_and_policy(workspace, operation) -> tuple[str, str] | None:
    """What an action would be after the operation, were it allowed."""
    kind, key, *args = operation
    if kind == "create":
        return args[0], args[1]
    if kind == "update":
        action = Action.objects.filter(workspace=workspace, key=key).first()
        if action is not None:
            return args[0].get("risk", action.risk), args[0].get("policy", action.policy)
    return None


def apply_operation(workspace, operation) -> None:
    kind, *args = operation
    if kind == "create":
        key, risk, policy, enabled = args
        action_create(
            workspace=workspace,
            **refund_fields(
                key=key,
                risk=risk,
                policy=policy,
                enabled=enabled,
                webhook_url="https://api.acme.example/hook",
            ),
        )
    elif kind == "update":
        key, changes = args
        action = Action.objects.filter(workspace=workspace, key=key).first()
        if action is not None:
            action_update(action=action, changes=changes)
    else:
        risk, approvers = args
        action_approval_policy_update(workspace=workspace, risk=risk, approvers=approvers)


def assert_the_rules_hold(workspace) -> None:
    for risk, policy in Action.objects.filter(workspace=workspace).values_list("risk", "policy"):
        assert risk in ActionRisk.values and policy in ActionPolicy.values
        assert not (risk == "destructive" and policy == "autonomous")
    policies = approvers_of(workspace)
    assert all(policies.values()), policies
    assert "viewer" not in policies["destructive"]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(OPERATIONS, max_size=12))
def test_no_sequence_of_changes_makes_a_destructive_action_autonomous_or_viewer_approved(
    workspace, viewer, operations
):
    viewing = viewer.memberships.get()
    # Each example in a savepoint that is rolled back, so examples do not see each other's rows.
    with transaction.atomic():
        for operation in operations:
            intended = intended_risk_and_policy(workspace, operation)
            try:
                apply_operation(workspace, operation)
            except ValidationError as error:
                if intended == ("destructive", "autonomous"):
                    assert DESTRUCTIVE_AUTONOMOUS_ERROR in error.message_dict["policy"]
            else:
                assert intended != ("destructive", "autonomous"), operation
                if operation[0] == "policy":
                    assert not (operation[1] == "destructive" and "viewer" in operation[2])
            assert_the_rules_hold(workspace)
        assert not may_approve(membership=viewing, risk="destructive", workspace=workspace)
        transaction.set_rollback(True)


# --- REST -----------------------------------------------------------------------------------


def key_client(workspace) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(workspace=workspace, name='k').raw_key}"
    )
    return client


def session_client(user, workspace) -> APIClient:
    client = APIClient()
    client.force_login(user)
    client.credentials(HTTP_X_WORKSPACE=workspace.slug)
    return client


@pytest.fixture
def api(workspace) -> APIClient:
    return key_client(workspace)


ACTIONS_URL = "/api/v1/routing/actions/"
POLICIES_URL = "/api/v1/routing/action-policies/"


def test_an_api_key_creates_reads_changes_and_deletes_an_action(api):
    created = api.post(ACTIONS_URL, refund_fields(), format="json")
    url = f"{ACTIONS_URL}{created.json()['id']}/"
    changed = api.patch(
        url, {"webhook_url": "https://api.acme.example/refund", "enabled": True}, format="json"
    )
    listed = api.get(ACTIONS_URL).json()
    deleted = api.delete(url)

    assert created.status_code == 201, created.json()
    assert created.json()["key"] == "issue_refund" and created.json()["enabled"] is False
    assert changed.status_code == 200 and changed.json()["enabled"] is True
    assert [a["key"] for a in listed] == ["issue_refund"]
    assert listed[0]["parameters"]["properties"]["currency"]["enum"] == ["USD", "EUR"]
    assert deleted.status_code == 204 and api.get(url).status_code == 404


def test_the_api_refuses_a_destructive_autonomous_action_naming_the_policy(api):
    refused = api.post(
        ACTIONS_URL, refund_fields(risk="destructive", policy="autonomous"), format="json"
    )
    created = api.post(ACTIONS_URL, refund_fields(risk="destructive"), format="json").json()
    patched = api.patch(f"{ACTIONS_URL}{created['id']}/", {"policy": "autonomous"}, format="json")

    assert refused.status_code == 400 and list(refused.json()) == ["policy"]
    assert "never run by itself" in refused.json()["policy"][0]
    assert patched.status_code == 400 and list(patched.json()) == ["policy"]
    assert api.get(f"{ACTIONS_URL}{created['id']}/").json()["policy"] == "approval"


def test_the_api_names_the_field_at_fault(api):
    response = api.post(
        ACTIONS_URL,
        refund_fields(parameters={"properties": {"amount": {"type": "money"}}}),
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "parameters": ["properties.amount.type: one of string, integer, number, boolean."]
    }


def test_admins_change_actions_and_every_member_reads_them(workspace, admin, agent, viewer):
    created = session_client(admin, workspace).post(ACTIONS_URL, refund_fields(), format="json")
    url = f"{ACTIONS_URL}{created.json()['id']}/"

    assert created.status_code == 201
    for person in (agent, viewer):
        client = session_client(person, workspace)
        assert client.get(url).json()["key"] == "issue_refund"
        assert client.patch(url, {"name": "Mine"}, format="json").status_code == 403
        assert client.delete(url).status_code == 403
        assert client.post(ACTIONS_URL, refund_fields(key="x"), format="json").status_code == 403
    assert Action.objects.get().name == "Issue refund"


def test_an_outsider_never_sees_another_workspaces_actions(api, workspace, outsider):
    created = api.post(ACTIONS_URL, refund_fields(), format="json").json()
    theirs = session_client(outsider, outsider.memberships.get().workspace)
    naming_ours = session_client(outsider, workspace)

    assert theirs.get(f"{ACTIONS_URL}{created['id']}/").status_code == 404
    assert theirs.get(ACTIONS_URL).json() == []
    assert naming_ours.get(ACTIONS_URL).status_code == 404


def test_templates_install_through_the_api_once(api):
    first = api.post(f"{ACTIONS_URL}templates/")
    second = api.post(f"{ACTIONS_URL}templates/")

    assert first.status_code == 200 and len(first.json()["created"]) == 6
    assert second.json()["created"] == []
    assert [a["key"] for a in second.json()["actions"]] == first.json()["created"]
    assert len(api.get(ACTIONS_URL).json()) == 6


def test_templates_are_installed_by_admins_only(workspace, agent):
    response = session_client(agent, workspace).post(f"{ACTIONS_URL}templates/")

    assert response.status_code == 403 and not Action.objects.exists()


def test_approval_policies_are_read_by_members_and_set_by_admins(workspace, admin, agent):
    read = session_client(agent, workspace).get(POLICIES_URL)
    refused = session_client(agent, workspace).put(
        POLICIES_URL, [{"risk": "destructive", "approvers": ["agent:1"]}], format="json"
    )
    changed = session_client(admin, workspace).put(
        POLICIES_URL, [{"risk": "destructive", "approvers": ["admin", "agent:2"]}], format="json"
    )

    assert [(p["risk"], p["approvers"]) for p in read.json()] == [
        ("read", ["admin", "agent:2", "agent:1"]),
        ("write", ["admin", "agent:2"]),
        ("destructive", ["admin"]),
    ]
    assert refused.status_code == 403
    assert changed.status_code == 200
    destructive = changed.json()[2]
    assert destructive["approvers"] == ["admin", "agent:2"]
    assert destructive["updated_by"] == "admin@acme.example"


def test_an_invalid_policy_update_changes_nothing_and_names_the_risk(api, workspace):
    response = api.put(
        POLICIES_URL,
        [
            {"risk": "write", "approvers": ["admin"]},
            {"risk": "destructive", "approvers": ["admin", "viewer"]},
        ],
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"destructive": ["Viewers can never approve destructive actions."]}
    assert approvers_of(workspace)["write"] == ["admin", "agent:2"]


def test_a_policy_update_lists_each_risk_once(api):
    response = api.put(
        POLICIES_URL,
        [{"risk": "read", "approvers": ["admin"]}, {"risk": "read", "approvers": ["agent:1"]}],
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Each risk level at most once."]}


def test_the_webhook_secret_is_for_admins_and_rotates(api, workspace, agent):
    url = "/api/v1/routing/action-webhook-secret/"
    first = api.get(url).json()
    again = api.get(url).json()
    rotated = api.post(f"{url}rotate/").json()

    assert first["secret"] == again["secret"] and len(first["secret"]) >= 43
    assert rotated["secret"] != first["secret"] and rotated["rotated_at"]
    assert session_client(agent, workspace).get(url).status_code == 403


def test_the_openapi_schema_describes_the_actions_api(db):
    schema = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    paths = schema.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/routing/actions/"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/routing/actions/{action_id}/"])
    assert "post" in paths["/api/v1/routing/actions/templates/"]
    assert {"get", "put"} <= set(paths["/api/v1/routing/action-policies/"])
    action_input = schema.json()["components"]["schemas"]["ActionInput"]
    assert "policy" in action_input["required"]
