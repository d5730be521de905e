"""The console's Team pages: inviting members, their roles and tiers, removing them (never the
last admin), and the queues with their tier, SLA and members. Only admins change anything, and
every change is audited."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.test import Client

from console.audit import audit_entries_of_workspace
from console.models import AuditEntry, Membership, Role, User
from console.services import membership_set
from routing.models import Queue
from routing.services import flow_rules_update, queue_members_set, queue_save
from tests.conftest import PASSWORD, client_for, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "plum-orbit-kettle-42"
TIER2_RULE = {
    "name": "Enterprise",
    "conditions": [{"fact": "customer_plan", "op": "eq", "value": "enterprise"}],
    "action": {"type": "handoff", "queue": "Tier 2", "priority": "high"},
}


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def url(path: str = "", slug: str = "acme") -> str:
    return f"/w/{slug}/team/{path}"


def audited(workspace, area: str) -> list[tuple[str, str, Any, Any]]:
    return [
        (entry.subject, entry.field, entry.old_value, entry.new_value)
        for entry in audit_entries_of_workspace(workspace=workspace, area=area).order_by("id")
    ]


def invite(**overrides: str) -> dict[str, str]:
    return {
        "email": "Nina@Acme.example",
        "name": "Nina New",
        "access": "agent:2",
        "password": NEW_PASSWORD,
        **overrides,
    }


def membership_of(user: User, workspace) -> Membership:
    return Membership.objects.get(user=user, workspace=workspace)


def role_form(member: Membership, access: str, was: str | None = None) -> dict[str, str]:
    current = f"agent:{member.tier}" if member.role == Role.AGENT else member.role
    return {f"m{member.pk}-access": access, f"m{member.pk}-was": was or current}


# --- members ---------------------------------------------------------------------------------


def test_admin_invites_a_new_person_who_signs_in_with_the_initial_password(workspace, admin):
    response = client_for(admin).post(url("invite/"), invite(), follow=True)

    page = text_of(response)
    assert "Added nina@acme.example as Agent, tier 2." in page
    assert "http://testserver/login/" in page
    nina = User.objects.get(email="nina@acme.example")
    assert nina.name == "Nina New"
    assert membership_of(nina, workspace).role_label == "Agent, tier 2"
    assert Client().login(username="nina@acme.example", password=NEW_PASSWORD)
    assert audited(workspace, "team") == [
        ("member nina@acme.example", "role", None, "Agent, tier 2")
    ]


def test_someone_with_an_account_elsewhere_keeps_their_password_and_the_answer_is_the_same(
    workspace, admin, outsider
):
    response = client_for(admin).post(
        url("invite/"), invite(email=outsider.email, access="viewer"), follow=True
    )

    page = text_of(response)
    assert f"Added {outsider.email} as Viewer. They sign in at" in page
    assert "someone who already had an account keeps their own password" in page
    assert membership_of(outsider, workspace).role == Role.VIEWER
    outsider.refresh_from_db()
    assert outsider.check_password(PASSWORD) and outsider.name == "Otto Outsider"


@pytest.mark.parametrize(
    ("overrides", "field_error"),
    [
        ({"email": "not-an-address"}, "Enter an email address such as sam@example.com."),
        ({"email": ""}, "Give the person's email address."),
        ({"password": "password"}, "This password is too common."),
        ({"password": "nina@acme.example"}, "The password is too similar to the email."),
        ({"password": ""}, "Choose an initial password."),
        ({"access": "agent:3"}, "Select a valid choice."),
        ({"email": "agent@acme.example"}, "agent@acme.example is already a member"),
    ],
)
def test_a_refused_invite_says_why_and_keeps_what_was_typed(
    workspace, admin, agent, overrides, field_error
):
    before = User.objects.count()

    response = client_for(admin).post(url("invite/"), invite(**overrides))

    assert response.status_code == 400
    page = text_of(response)
    assert "The member was not added." in page and field_error in page
    assert 'value="Nina New"' in page
    assert NEW_PASSWORD not in page  # a password is never sent back
    assert User.objects.count() == before
    assert audited(workspace, "team") == []


def test_admin_changes_a_role_and_tier_and_it_is_audited(workspace, admin, agent):
    member = membership_of(agent, workspace)

    response = client_for(admin).post(
        url(f"{member.pk}/role/"), role_form(member, "agent:2"), follow=True
    )

    assert "Andy Agent is now Agent, tier 2." in text_of(response)
    member.refresh_from_db()
    assert (member.role, member.tier) == ("agent", 2)
    client_for(admin).post(url(f"{member.pk}/role/"), role_form(member, "viewer"))
    member.refresh_from_db()
    assert (member.role, member.tier) == ("viewer", None)
    assert audited(workspace, "team") == [
        ("member agent@acme.example", "role", "Agent, tier 1", "Agent, tier 2"),
        ("member agent@acme.example", "role", "Agent, tier 2", "Viewer"),
    ]


def test_the_last_admin_can_be_neither_demoted_nor_removed(workspace, admin):
    me = membership_of(admin, workspace)
    client = client_for(admin)

    demoted = client.post(url(f"{me.pk}/role/"), role_form(me, "viewer"))
    removed = client.post(url(f"{me.pk}/remove/"), follow=True)

    assert demoted.status_code == 400
    assert "Alice Admin is the last admin: make someone else an admin first." in text_of(demoted)
    assert '<option value="viewer" selected>' in text_of(demoted)  # the choice stays shown
    assert "Alice Admin was not removed: Alice Admin is the last admin" in text_of(removed)
    me.refresh_from_db()
    assert me.role == Role.ADMIN
    assert audited(workspace, "team") == []


def test_with_a_second_admin_an_admin_may_step_down_or_leave(workspace, admin):
    second = make_user("second@acme.example", "Sid Second")
    membership_set(workspace=workspace, user=second, role=Role.ADMIN)
    me = membership_of(admin, workspace)
    client = client_for(admin)

    response = client.post(url(f"{me.pk}/remove/"))

    assert response.status_code == 302 and response["Location"] == "/"
    assert not Membership.objects.filter(pk=me.pk).exists()
    assert client.get(url()).status_code == 404
    assert User.objects.filter(pk=admin.pk).exists()  # the account stays
    assert audited(workspace, "team") == [("member admin@acme.example", "role", "Admin", None)]


def test_a_role_changed_by_someone_else_meanwhile_is_not_overwritten(workspace, admin, agent):
    member = membership_of(agent, workspace)
    opened = role_form(member, "viewer")
    membership_set(workspace=workspace, user=agent, role=Role.AGENT, tier=2)  # another admin

    response = client_for(admin).post(url(f"{member.pk}/role/"), opened)

    assert response.status_code == 400
    page = text_of(response)
    assert "Someone else changed the role of agent@acme.example since you opened this page" in page
    assert "they are now Agent, tier 2" in page
    member.refresh_from_db()
    assert (member.role, member.tier) == ("agent", 2)


def test_a_damaged_role_form_is_refused_clearly(workspace, admin, agent):
    member = membership_of(agent, workspace)

    response = client_for(admin).post(
        url(f"{member.pk}/role/"), role_form(member, "admin", was="root")
    )

    assert response.status_code == 400
    assert "The form is damaged: reload the page." in text_of(response)
    member.refresh_from_db()
    assert member.role == Role.AGENT


def test_removing_a_member_takes_them_out_of_the_queues_and_is_audited(workspace, admin, agent):
    tier1 = Queue.objects.get(workspace=workspace, name="Tier 1")
    queue_members_set(queue=tier1, users=[agent])
    member = membership_of(agent, workspace)

    page = text_of(client_for(admin).post(url(f"{member.pk}/remove/"), follow=True))

    assert "Removed Andy Agent from Acme." in page
    assert "agent@acme.example" not in page.split("<tbody>", 1)[1]
    assert list(tier1.members.all()) == []
    assert audited(workspace, "team") == [
        ("member agent@acme.example", "role", "Agent, tier 1", None)
    ]


def test_everyone_sees_the_team_and_only_admins_get_the_controls(workspace, admin, agent, viewer):
    admin_page = text_of(client_for(admin).get(url()))
    assert "Add a member" in admin_page and "Role of Andy Agent" in admin_page
    assert 'Remove<span class="visually-hidden"> Vera Viewer' in admin_page
    for person in (agent, viewer):
        page = text_of(client_for(person).get(url()))
        assert "Alice Admin" in page and "Agent, tier 1" in page and "Viewer" in page
        assert "Add a member" not in page and "Role of" not in page and "Remove" not in page
        assert "Only admins add members or change roles." in page


@pytest.mark.parametrize("path", ["invite/", "{member}/role/", "{member}/remove/"])
def test_a_forged_member_change_from_an_agent_or_viewer_is_forbidden(
    workspace, admin, agent, viewer, path
):
    target = membership_of(admin, workspace)
    for person in (agent, viewer):
        response = client_for(person).post(
            url(path.format(member=target.pk)), {**invite(), **role_form(target, "viewer")}
        )
        assert response.status_code == 403
    target.refresh_from_db()
    assert target.role == Role.ADMIN
    assert not User.objects.filter(email="nina@acme.example").exists()
    assert not AuditEntry.objects.filter(area="team").exists()


def test_another_workspaces_members_are_not_found(workspace, admin, outsider, other_workspace):
    foreign = membership_of(outsider, other_workspace)
    client = client_for(admin)

    assert client.post(url(f"{foreign.pk}/role/"), role_form(foreign, "viewer")).status_code == 404
    assert client.post(url(f"{foreign.pk}/remove/")).status_code == 404
    assert client_for(outsider).get(url()).status_code == 404
    assert client_for(outsider).post(url("invite/"), invite()).status_code == 404
    foreign.refresh_from_db()
    assert foreign.role == Role.ADMIN


# --- queues ----------------------------------------------------------------------------------


def queue_form(queue: Queue | None = None, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {"name": "Billing", "tier": 1, "sla_wait_minutes": 15}
    if queue is not None:
        snapshot = {
            "name": queue.name,
            "tier": queue.tier,
            "sla_wait_minutes": queue.sla_wait_minutes,
        }
        values = {**snapshot, "loaded": json.dumps(snapshot)}
    return {**values, **overrides}


def members_form(queue: Queue, users: list[User]) -> dict[str, object]:
    loaded = sorted(queue.members.values_list("pk", flat=True))
    return {"members": [user.pk for user in users], "loaded": json.dumps(loaded)}


def test_everyone_sees_the_queues_with_tier_sla_and_members(workspace, admin, agent, viewer):
    queue_members_set(queue=Queue.objects.get(workspace=workspace, name="Tier 1"), users=[agent])

    for person in (admin, agent, viewer):
        page = text_of(client_for(person).get(url("queues/")))
        row = re.search(r'<tr id="queue-\d+">(?:(?!</tr>).)*Tier 1</a>.*?</tr>', page, re.S)
        assert row is not None
        assert "10 min" in row.group(0) and "Andy Agent" in row.group(0)
        assert ("Add a queue" in page) is (person == admin)


def test_admin_adds_a_queue_and_it_is_audited(workspace, admin):
    response = client_for(admin).post(url("queues/add/"), queue_form(), follow=True)

    assert "Added the queue “Billing”." in text_of(response)
    billing = Queue.objects.get(workspace=workspace, name="Billing")
    assert (billing.tier, billing.sla_wait_minutes) == (1, 15)
    assert audited(workspace, "queues") == [
        ("queue Billing", "queue", None, {"name": "Billing", "tier": 1, "sla_wait_minutes": 15})
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Tier 2"}, "There is already a queue named 'Tier 2'."),
        ({"name": ""}, "Give the queue a name."),
        ({"sla_wait_minutes": 0}, "Ensure this value is greater than or equal to 1."),
        ({"sla_wait_minutes": "soon"}, "A whole number of minutes."),
        ({"tier": 3}, "Select a valid choice."),
    ],
)
def test_a_refused_queue_says_why_and_keeps_what_was_typed(workspace, admin, overrides, message):
    form = queue_form(**{"name": "Billing (typed)", **overrides})

    response = client_for(admin).post(url("queues/add/"), form)

    assert response.status_code == 400
    page = text_of(response)
    assert "The queue was not added." in page and message in page
    kept = 'value="15"' if "name" in overrides else 'value="Billing (typed)"'
    assert kept in page
    assert Queue.objects.filter(workspace=workspace).count() == 2


def test_admin_edits_a_queue_and_the_change_is_audited(workspace, admin):
    tier1 = Queue.objects.get(workspace=workspace, name="Tier 1")

    response = client_for(admin).post(
        url(f"queues/{tier1.pk}/edit/"), queue_form(tier1, name="Front line", sla_wait_minutes=5)
    )

    assert response.status_code == 302
    tier1.refresh_from_db()
    assert (tier1.name, tier1.sla_wait_minutes) == ("Front line", 5)
    ((subject, _, old, new),) = audited(workspace, "queues")
    assert (subject, old["name"], new["name"], new["sla_wait_minutes"]) == (
        "queue Front line",
        "Tier 1",
        "Front line",
        5,
    )


def test_renaming_a_queue_that_rules_use_is_refused(workspace, admin):
    flow = workspace.flows.get()
    flow_rules_update(flow=flow, rules=[TIER2_RULE], expected_revision=flow.draft_revision)
    tier2 = Queue.objects.get(workspace=workspace, name="Tier 2")

    renamed = client_for(admin).post(url(f"queues/{tier2.pk}/edit/"), queue_form(tier2, name="T2"))
    deleted = client_for(admin).post(url(f"queues/{tier2.pk}/delete/"), follow=True)

    assert renamed.status_code == 400
    assert "Rules hand off to this queue; change them first." in text_of(renamed)
    assert 'value="T2"' in text_of(renamed)
    assert "The queue “Tier 2” was not deleted: Rules hand off to this queue" in text_of(deleted)
    assert Queue.objects.filter(pk=tier2.pk, name="Tier 2").exists()


def test_a_queue_changed_by_someone_else_meanwhile_is_not_overwritten(workspace, admin):
    tier1 = Queue.objects.get(workspace=workspace, name="Tier 1")
    opened = queue_form(tier1, sla_wait_minutes=30)
    queue_save(workspace=workspace, queue=tier1, name="Tier 1", tier=1, sla_wait_minutes=3)

    response = client_for(admin).post(url(f"queues/{tier1.pk}/edit/"), opened)

    assert response.status_code == 400
    page = text_of(response)
    assert "Someone else changed this queue since you opened it." in page
    assert 'value="30"' in page
    tier1.refresh_from_db()
    assert tier1.sla_wait_minutes == 3


def test_admin_chooses_who_works_a_queue_and_it_is_audited(workspace, admin, agent, viewer):
    tier1 = Queue.objects.get(workspace=workspace, name="Tier 1")
    client = client_for(admin)
    page = text_of(client.get(url(f"queues/{tier1.pk}/")))
    assert "Andy Agent (Agent, tier 1)" in page and "Vera Viewer" not in page

    response = client.post(
        url(f"queues/{tier1.pk}/members/"), members_form(tier1, [admin, agent]), follow=True
    )

    assert "Saved who works the queue “Tier 1”." in text_of(response)
    assert set(tier1.members.all()) == {admin, agent}
    assert audited(workspace, "queues") == [
        ("queue Tier 1", "members", [], ["admin@acme.example", "agent@acme.example"])
    ]
    stale = client.post(url(f"queues/{tier1.pk}/members/"), {"members": [], "loaded": "[]"})
    assert "Someone else changed this queue since you opened it." in text_of(stale)
    assert tier1.members.count() == 2


def test_a_viewer_or_an_outsider_cannot_be_put_in_a_queue(workspace, admin, viewer, outsider):
    tier1 = Queue.objects.get(workspace=workspace, name="Tier 1")

    for person in (viewer, outsider):
        response = client_for(admin).post(
            url(f"queues/{tier1.pk}/members/"), members_form(tier1, [person])
        )
        assert response.status_code == 400
        assert "Choose among the admins and agents of this workspace." in text_of(response)
    damaged = client_for(admin).post(
        url(f"queues/{tier1.pk}/members/"), {"members": [], "loaded": '{"x": 1}'}
    )
    assert "The form is damaged: reload the page." in text_of(damaged)
    assert tier1.members.count() == 0


def test_admin_deletes_a_queue(workspace, admin):
    billing = queue_save(workspace=workspace, name="Billing", tier=1, sla_wait_minutes=15)

    page = text_of(client_for(admin).post(url(f"queues/{billing.pk}/delete/"), follow=True))

    assert "Deleted the queue “Billing”." in page
    assert not Queue.objects.filter(pk=billing.pk).exists()
    assert audited(workspace, "queues")[-1][3] is None


def test_agents_and_viewers_read_a_queue_and_cannot_change_it(workspace, agent, viewer):
    tier1 = Queue.objects.get(workspace=workspace, name="Tier 1")
    for person in (agent, viewer):
        client = client_for(person)
        page = text_of(client.get(url(f"queues/{tier1.pk}/")))
        assert "Only admins change queues." in page and "Save queue" not in page
        for path, data in (
            ("queues/add/", queue_form()),
            (f"queues/{tier1.pk}/edit/", queue_form(tier1, name="Mine")),
            (f"queues/{tier1.pk}/members/", members_form(tier1, [person])),
            (f"queues/{tier1.pk}/delete/", {}),
        ):
            assert client.post(url(path), data).status_code == 403
    tier1.refresh_from_db()
    assert tier1.name == "Tier 1" and tier1.members.count() == 0
    assert Queue.objects.filter(workspace=workspace).count() == 2
    assert not AuditEntry.objects.filter(area="queues").exists()


def test_another_workspaces_queues_are_not_found(workspace, admin, other_workspace, outsider):
    foreign = Queue.objects.get(workspace=other_workspace, name="Tier 1")
    client = client_for(admin)

    assert client.get(url(f"queues/{foreign.pk}/")).status_code == 404
    assert client.post(url(f"queues/{foreign.pk}/edit/"), queue_form(foreign)).status_code == 404
    assert client.post(url(f"queues/{foreign.pk}/delete/")).status_code == 404
    assert client_for(outsider).get(url("queues/")).status_code == 404
    assert Queue.objects.filter(pk=foreign.pk).exists()
