"""REST API of flows, versions, rules and queues."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.services import api_key_create

pytestmark = pytest.mark.django_db

HANDOFF_ANGRY = {
    "name": "Angry enterprise customers",
    "match": "all",
    "conditions": [
        {"fact": "sentiment_score", "op": "lte", "value": -0.4},
        {"fact": "customer_plan", "op": "eq", "value": "enterprise"},
    ],
    "action": {"type": "handoff", "queue": "Tier 2", "priority": "urgent"},
}


def key_client(workspace) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(workspace=workspace, name='k').raw_key}"
    )
    return client


@pytest.fixture
def api(workspace) -> APIClient:
    return key_client(workspace)


def the_flow(api) -> dict:
    (flow,) = api.get("/api/v1/routing/flows/").json()
    return flow


def test_a_workspace_lists_its_published_default_flow_and_queues(api):
    flow = the_flow(api)

    assert flow["name"] == "Default flow" and flow["published_version"] == 1
    assert flow["settings"]["languages"] == ["en", "pt", "es", "fr", "de"]
    queues = api.get("/api/v1/routing/queues/").json()
    assert [(q["name"], q["tier"]) for q in queues] == [("Tier 1", 1), ("Tier 2", 2)]


def test_edit_rules_publish_and_roll_back(api):
    flow = the_flow(api)
    url = f"/api/v1/routing/flows/{flow['id']}"

    edited = api.put(
        f"{url}/draft/",
        {"revision": flow["draft_revision"], "rules": [HANDOFF_ANGRY]},
        format="json",
    )
    published = api.post(f"{url}/publish/", {"note": "Escalate angry enterprise"}, format="json")
    rolled = api.post(f"{url}/versions/1/rollback/")

    assert edited.status_code == 200, edited.json()
    assert edited.json()["rules"][0]["action"]["priority"] == "urgent"
    assert published.status_code == 201
    assert published.json()["number"] == 2
    assert published.json()["snapshot"]["rules"][0]["name"] == "Angry enterprise customers"
    assert rolled.status_code == 201 and rolled.json()["note"] == "Rollback to version 1"
    assert the_flow(api)["rules"] == []
    assert [v["number"] for v in api.get(f"{url}/versions/").json()] == [3, 2, 1]


def test_stale_revision_is_refused_and_nothing_changes(api):
    flow = the_flow(api)
    url = f"/api/v1/routing/flows/{flow['id']}/draft/"
    api.put(
        url,
        {"revision": flow["draft_revision"], "settings": {**flow["settings"], "max_ai_turns": 6}},
        format="json",
    )

    stale = api.put(
        url, {"revision": flow["draft_revision"], "rules": [HANDOFF_ANGRY]}, format="json"
    )

    assert stale.status_code == 400
    assert "Someone else changed this draft" in stale.json()["revision"][0]
    assert the_flow(api)["rules"] == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"rules": [{**HANDOFF_ANGRY, "action": {"type": "handoff", "queue": "VIP"}}]},
            "one of the queues",
        ),
        ({"rules": [{**HANDOFF_ANGRY, "conditions": []}]}, "at least one condition"),
        ({"settings": {"confidence_threshold": 3}}, "between 0 and 1"),
        ({"rules": "not a list"}, "list"),
    ],
)
def test_bad_draft_input_gets_a_clear_400(api, payload, expected):
    flow = the_flow(api)

    response = api.put(
        f"/api/v1/routing/flows/{flow['id']}/draft/",
        {"revision": flow["draft_revision"], **payload},
        format="json",
    )

    assert response.status_code == 400
    assert expected in str(response.json())
    assert the_flow(api)["draft_revision"] == flow["draft_revision"]


def test_queues_can_be_added_renamed_and_deleted_unless_rules_use_them(api):
    created = api.post("/api/v1/routing/queues/", {"name": "Billing", "tier": 2}, format="json")
    duplicate = api.post("/api/v1/routing/queues/", {"name": "Billing", "tier": 1}, format="json")
    flow = the_flow(api)
    api.put(
        f"/api/v1/routing/flows/{flow['id']}/draft/",
        {
            "revision": flow["draft_revision"],
            "rules": [{**HANDOFF_ANGRY, "action": {"type": "handoff", "queue": "Billing"}}],
        },
        format="json",
    )
    queue_url = f"/api/v1/routing/queues/{created.json()['id']}/"

    rename = api.put(queue_url, {"name": "Money", "tier": 2, "sla_wait_minutes": 5}, format="json")
    delete = api.delete(queue_url)
    keep_name = api.put(
        queue_url, {"name": "Billing", "tier": 1, "sla_wait_minutes": 5}, format="json"
    )

    assert created.status_code == 201
    assert duplicate.status_code == 400 and "already a queue named 'Billing'" in str(
        duplicate.json()
    )
    assert rename.status_code == 400 and "Rules hand off to this queue" in str(rename.json())
    assert delete.status_code == 400
    assert keep_name.status_code == 200 and keep_name.json()["sla_wait_minutes"] == 5


def test_another_workspaces_flows_and_queues_are_404(api, other_workspace):
    theirs = key_client(other_workspace)
    flow = the_flow(theirs)
    queue = theirs.get("/api/v1/routing/queues/").json()[0]

    assert api.get(f"/api/v1/routing/flows/{flow['id']}/").status_code == 404
    assert api.post(f"/api/v1/routing/flows/{flow['id']}/publish/").status_code == 404
    assert api.delete(f"/api/v1/routing/queues/{queue['id']}/").status_code == 404


def test_agents_read_flows_but_cannot_change_them(agent):
    client = APIClient()
    client.force_login(agent)

    flows = client.get("/api/v1/routing/flows/", HTTP_X_WORKSPACE="acme")
    publish = client.post(
        f"/api/v1/routing/flows/{flows.json()[0]['id']}/publish/", HTTP_X_WORKSPACE="acme"
    )

    assert flows.status_code == 200
    assert publish.status_code == 403
