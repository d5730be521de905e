"""The simulator API runs a message through the flow's draft and stores why the AI decided what
it did; the stored traces can be read back by members of the workspace only."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.services import api_key_create
from routing.models import DecisionTrace
from routing.pipeline import MessageContext, flow_message_decide
from routing.selectors import published_version
from routing.services import flow_publish, flow_settings_update

pytestmark = pytest.mark.django_db

IN_CORPUS = "How long is the password reset link valid?"
FALLBACK_EN = "I don't have that exact information, let me connect you with a human expert."
REFUND_RULE = {
    "name": "Refunds go to tier 2",
    "match": "any",
    "conditions": [{"fact": "message", "op": "contains_any", "value": ["refund"]}],
    "action": {"type": "handoff", "queue": "Tier 2", "priority": "urgent"},
}


@pytest.fixture(autouse=True)
def confident_enough(workspace, admin):
    """The fixture's articles are a few lines long, so their passages match questions less
    closely than real articles do: the draft and the live version use a lower threshold."""
    flow = workspace.flows.get()
    flow = flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.4},
        expected_revision=flow.draft_revision,
    )
    flow_publish(flow=flow, published_by=admin)


def session_client(user) -> APIClient:
    client = APIClient(HTTP_X_WORKSPACE="acme")
    client.force_login(user)
    return client


def key_client(workspace) -> APIClient:
    client = APIClient()
    raw_key = api_key_create(workspace=workspace, name="k").raw_key
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def flow_of(client) -> dict:
    (flow,) = client.get("/api/v1/routing/flows/").json()
    return flow


def simulate(client, flow_id: int, body):
    return client.post(f"/api/v1/routing/flows/{flow_id}/simulate/", body, format="json")


def live_decision(workspace, message: str):
    version = published_version(workspace=workspace)
    assert version is not None
    return version, flow_message_decide(
        version=version, workspace_id=workspace.pk, message=message, context=MessageContext()
    )


def test_an_in_corpus_question_is_answered_with_citations_and_a_timed_trace(synced_source, admin):
    client = session_client(admin)
    flow = flow_of(client)

    response = simulate(client, flow["id"], {"message": IN_CORPUS})

    body = response.json()
    assert response.status_code == 200, body
    assert body["outcome"] == "answer"
    assert "30 minutes" in body["reply"]
    assert body["language"] == "en"
    assert body["citations"][0]["external_id"] == "en/reset-password.md"
    assert body["draft_revision"] == flow["draft_revision"]
    trace = body["trace"]
    assert trace["flow_version"] == "draft"
    stages = {"language", "sentiment", "retrieval", "rules", "answer"}
    assert stages <= set(trace["stages"])
    assert stages <= set(trace["timings_ms"])
    assert all(ms >= 0 for ms in trace["timings_ms"].values())
    assert trace["stages"]["retrieval"]["hits"][0]["external_id"] == "en/reset-password.md"
    assert trace["facts"]["message"] == IN_CORPUS


def test_the_simulator_runs_the_draft_while_the_live_version_stays_as_published(
    synced_source, admin, workspace
):
    client = session_client(admin)
    flow = flow_of(client)
    edited = client.put(
        f"/api/v1/routing/flows/{flow['id']}/draft/",
        {
            "revision": flow["draft_revision"],
            "settings": {**flow["settings"], "confidence_threshold": 1.0},
        },
        format="json",
    )

    response = simulate(client, flow["id"], {"message": IN_CORPUS})

    body = response.json()
    assert edited.status_code == 200
    assert body["outcome"] == "handoff"
    assert body["reason"] == "low_confidence"
    assert body["reply"] == FALLBACK_EN
    assert body["queue"] == "Tier 1"
    assert body["draft_revision"] == edited.json()["draft_revision"]
    # Customers still get the published version, which answers.
    version, live = live_decision(workspace, IN_CORPUS)
    assert version.number == flow["published_version"]
    assert live.outcome == "answer"


def test_a_keyword_rule_in_the_draft_fires_in_the_simulation(synced_source, admin, workspace):
    client = session_client(admin)
    flow = flow_of(client)
    client.put(
        f"/api/v1/routing/flows/{flow['id']}/draft/",
        {"revision": flow["draft_revision"], "rules": [REFUND_RULE]},
        format="json",
    )
    message = "Can I get a refund for my annual plan?"

    body = simulate(client, flow["id"], {"message": message}).json()

    assert body["outcome"] == "handoff"
    assert (body["reason"], body["queue"], body["priority"]) == ("rule", "Tier 2", "urgent")
    rules = body["trace"]["stages"]["rules"]
    assert rules["rule"] == "Refunds go to tier 2"
    assert rules["evaluations"][0]["matched"] is True
    assert rules["evaluations"][0]["conditions"][0]["actual"] == ["refund"]
    # The rule is only in the draft: the live version does not know it.
    _, live = live_decision(workspace, message)
    assert live.reason != "rule"


def test_history_and_customer_reach_the_rules(synced_source, admin):
    client = session_client(admin)
    flow = flow_of(client)

    body = simulate(
        client,
        flow["id"],
        {
            "message": IN_CORPUS,
            "history": ["Hi", "My reset email never came"],
            "customer": {"name": "Rita", "plan": "enterprise", "attributes": {"seats": 40}},
            "previous_language": "en",
        },
    ).json()

    facts = body["trace"]["facts"]
    assert facts["turns"] == 3
    assert facts["customer_plan"] == "enterprise"
    assert facts["customer_attributes"] == {"seats": 40}


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        (["How do I reset my password?"], "non_field_errors", "Expected a dictionary"),
        ("How do I reset my password?", "non_field_errors", "Expected a dictionary"),
        ({}, "message", "required"),
        ({"message": "   "}, "message", "may not be blank"),
        ({"message": "x" * 4001}, "message", "no more than 4000 characters"),
        ({"message": 42}, "message", "Not a valid string"),
        ({"message": "Hi", "history": "Hello there"}, "history", "Expected a list"),
        ({"message": "Hi", "history": ["Hello", 3]}, "history", "Not a valid string"),
        ({"message": "Hi", "history": ["Hello"] * 51}, "history", "no more than 50"),
        ({"message": "Hi", "customer": "Rita"}, "customer", "Expected a dictionary"),
        ({"message": "Hi", "customer": {"plan": 5}}, "customer", "Not a valid string"),
        ({"message": "Hi", "customer": {"email": "r@x.io"}}, "customer", "Unknown customer"),
        ({"message": "Hi", "previous_language": "tlh"}, "previous_language", "not a valid"),
    ],
)
def test_a_malformed_body_is_refused_naming_the_field_and_nothing_is_stored(
    admin, body, field, says
):
    client = session_client(admin)
    flow = flow_of(client)

    response = simulate(client, flow["id"], body)

    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert says in str(errors[field])
    assert not DecisionTrace.objects.exists()


def test_viewers_cannot_simulate_but_agents_can(synced_source, viewer, agent):
    flow_id = flow_of(session_client(viewer))["id"]

    refused = simulate(session_client(viewer), flow_id, {"message": IN_CORPUS})
    allowed = simulate(session_client(agent), flow_id, {"message": IN_CORPUS})

    assert refused.status_code == 403
    assert "Only admins and agents" in refused.json()["detail"]
    assert allowed.status_code == 200
    assert DecisionTrace.objects.count() == 1


def test_another_workspace_cannot_simulate_this_flow(admin, outsider, other_workspace):
    flow_id = flow_of(session_client(admin))["id"]

    as_outsider = simulate(session_client(outsider), flow_id, {"message": IN_CORPUS})
    with_their_key = simulate(key_client(other_workspace), flow_id, {"message": IN_CORPUS})

    assert as_outsider.status_code == 404
    assert with_their_key.status_code == 404
    assert not DecisionTrace.objects.exists()


def test_each_simulation_is_stored_and_readable_by_members_of_its_workspace_only(
    synced_source, admin, viewer, workspace, other_workspace
):
    client = key_client(workspace)
    flow = flow_of(client)
    first = simulate(client, flow["id"], {"message": IN_CORPUS}).json()
    second = simulate(client, flow["id"], {"message": "Do you sell gift cards?"}).json()

    listed = session_client(viewer).get("/api/v1/routing/traces/")
    detail = session_client(viewer).get(f"/api/v1/routing/traces/{first['trace_id']}/")
    theirs = key_client(other_workspace)

    assert listed.status_code == 200
    summaries = listed.json()
    assert [s["id"] for s in summaries] == [second["trace_id"], first["trace_id"]]
    assert summaries[1]["source"] == "simulator"
    assert summaries[1]["message"] == IN_CORPUS
    assert summaries[1]["outcome"] == "answer"
    assert summaries[1]["flow_version"] is None
    assert summaries[1]["draft_revision"] == flow["draft_revision"]
    assert "trace" not in summaries[1]
    record = detail.json()
    assert detail.status_code == 200
    assert record["reply"] == first["reply"]
    assert record["trace"] == first["trace"]
    assert record["trace"]["flow_version"] == "draft"
    stored = DecisionTrace.objects.get(pk=first["trace_id"])
    assert (stored.workspace, stored.source, stored.flow_version) == (workspace, "simulator", None)
    assert theirs.get(f"/api/v1/routing/traces/{first['trace_id']}/").status_code == 404
    assert theirs.get("/api/v1/routing/traces/").json() == []


def test_the_schema_documents_the_simulator_and_the_traces(db):
    schema = (
        APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )

    simulate_op = schema["paths"]["/api/v1/routing/flows/{flow_id}/simulate/"]["post"]
    request_ref = simulate_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request_schema = schema["components"]["schemas"][request_ref.rsplit("/", 1)[1]]
    assert request_schema["required"] == ["message"]
    assert set(request_schema["properties"]) == {
        "message",
        "history",
        "customer",
        "previous_language",
    }
    response_ref = simulate_op["responses"]["200"]["content"]["application/json"]["schema"]
    response_schema = schema["components"]["schemas"][response_ref["$ref"].rsplit("/", 1)[1]]
    assert {"trace", "trace_id", "draft_revision", "citations"} <= set(
        response_schema["properties"]
    )
    assert "get" in schema["paths"]["/api/v1/routing/traces/"]
    assert "get" in schema["paths"]["/api/v1/routing/traces/{trace_id}/"]
