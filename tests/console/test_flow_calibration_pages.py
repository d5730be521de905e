"""The flow's Thresholds page (calibration as the sliders move, saving) and Simulator page."""

from __future__ import annotations

import html
import re

import pytest

from console.audit import audit_entries_of_workspace
from routing.question_set import question_save
from routing.services import flow_settings_update
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

IN_SCOPE = "How long is the password reset link valid?"
OUT_OF_SCOPE = "How do I configure a Kubernetes ingress controller?"


@pytest.fixture
def flow(workspace):
    return workspace.flows.get()


@pytest.fixture
def questions(workspace, admin):
    question_save(
        workspace=workspace,
        data={
            "name": "reset link",
            "turns": [IN_SCOPE],
            "expected_outcome": "answer",
            "expected_articles": ["en/reset-password.md"],
        },
        by=admin,
    )
    question_save(
        workspace=workspace,
        data={"name": "kubernetes", "turns": [OUT_OF_SCOPE], "expected_outcome": "handoff"},
        by=admin,
    )


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def visible(response) -> str:
    """The text a person reads (tags removed)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def calibrate(client, flow, confidence: float, **extra: object):
    params = {
        "confidence_threshold": confidence,
        "sentiment_escalate_at": -0.5,
        "sentiment_high_priority_at": -0.75,
        "examples": "",
        **extra,
    }
    return client.get(f"/w/acme/flows/{flow.pk}/thresholds/calibrate/", params)


def test_moving_the_confidence_slider_changes_how_questions_are_treated(
    flow, agent, synced_source, questions
):
    client = client_for(agent)  # exploring is for everyone; saving is for admins

    loose = visible(calibrate(client, flow, 0.3))
    strict = visible(calibrate(client, flow, 0.95))

    assert "At confidence 0.30: 1 answered , 1 handed off" in loose
    assert "Test questions: 2 of 2 right, 0 wrong answers , 0 missed answers." in loose
    assert "At confidence 0.95: 0 answered , 2 handed off" in strict
    assert "1 of 2 right, 0 wrong answers , 1 missed answer." in strict
    assert "missed answer" in strict and "en/reset-password.md" in loose


def test_the_page_shows_sliders_at_the_drafts_values_and_the_examples(flow, viewer, synced_source):
    client = client_for(viewer)
    page = text(client.get(f"/w/acme/flows/{flow.pk}/thresholds/"))
    examples = page.split('name="examples"')[1].split("</textarea>")[0]
    region = text(calibrate(client, flow, 0.5, examples="Can I talk to a human, please?"))

    assert 'type="range"' in page and 'name="confidence_threshold"' in page
    assert 'value="0.5"' in page  # the draft's threshold
    assert "Can I talk to a human, please?" in examples  # a default example
    assert 'hx-trigger="load"' in page  # the page asks for the calibration once loaded
    assert "Save thresholds" not in page and "only admins save them" in page
    assert "Can I talk to a human, please?" in region
    assert "The customer asked for a human" in region


def test_bad_slider_values_are_refused_with_a_message(flow, agent, synced_source):
    response = text(calibrate(agent and client_for(agent), flow, 1.5))
    inverted = text(calibrate(client_for(agent), flow, 0.5, sentiment_high_priority_at=0.2))

    assert "These values cannot be calibrated" in response
    assert "Ensure this value is less than or equal to 1" in response
    assert "High priority must be at or below the hand-off score." in inverted


def test_an_admin_saves_the_thresholds_to_the_draft_and_it_is_audited(flow, admin, synced_source):
    response = client_for(admin).post(
        f"/w/acme/flows/{flow.pk}/thresholds/save/",
        {
            "confidence_threshold": "0.62",
            "sentiment_escalate_at": "-0.4",
            "sentiment_high_priority_at": "-0.7",
            "examples": "",
            "revision": flow.draft_revision,
        },
    )

    assert response.status_code == 302 and response["Location"].endswith("?saved=1")
    flow.refresh_from_db()
    assert flow.settings["confidence_threshold"] == 0.62
    assert flow.settings["sentiment_escalate_at"] == -0.4
    changed = {
        (entry.field, entry.old_value, entry.new_value)
        for entry in audit_entries_of_workspace(workspace=flow.workspace, area="flow settings")
    }
    assert ("confidence_threshold", 0.5, 0.62) in changed


def test_saving_over_another_admins_change_is_refused_and_keeps_the_values(
    flow, admin, synced_source
):
    opened_at = flow.draft_revision
    flow_settings_update(
        flow=flow,
        settings={**flow.settings, "max_ai_turns": 7},
        expected_revision=opened_at,
        by=admin,
    )

    response = client_for(admin).post(
        f"/w/acme/flows/{flow.pk}/thresholds/save/",
        {
            "confidence_threshold": "0.61",
            "sentiment_escalate_at": "-0.5",
            "sentiment_high_priority_at": "-0.75",
            "examples": "",
            "revision": opened_at,
        },
    )

    page = text(response)
    assert response.status_code == 400
    assert "Someone else changed this draft since you opened it" in page
    assert 'value="0.61"' in page
    flow.refresh_from_db()
    assert flow.settings["confidence_threshold"] == 0.5 and flow.settings["max_ai_turns"] == 7


def test_agents_and_viewers_cannot_save_and_other_workspaces_flows_are_hidden(
    flow, agent, outsider, synced_source
):
    forged = client_for(agent).post(
        f"/w/acme/flows/{flow.pk}/thresholds/save/",
        {
            "confidence_threshold": "0.1",
            "sentiment_escalate_at": "-0.5",
            "sentiment_high_priority_at": "-0.75",
            "revision": flow.draft_revision,
        },
    )
    foreign = client_for(outsider).get(f"/w/globex/flows/{flow.pk}/thresholds/")

    assert forged.status_code == 403
    assert foreign.status_code == 404
    flow.refresh_from_db()
    assert flow.settings["confidence_threshold"] == 0.5


# --- simulator ---------------------------------------------------------------------------------


def test_the_simulator_runs_the_draft_with_the_customers_details_and_shows_the_trace(
    flow, agent, synced_source
):
    response = client_for(agent).post(
        f"/w/acme/flows/{flow.pk}/simulator/run/",
        {
            "message": "Can I talk to a human? This is useless.",
            "customer_name": "Ana",
            "customer_plan": "enterprise",
            "customer_language": "en",
            "customer_attributes": "company_size=250\nregion = EU",
        },
    )

    page = text(response)
    assert response.status_code == 200
    assert "Handed off" in page and "Handoff brief" in page
    assert "Customer plan" in page and "enterprise" in page
    assert "company_size" in page and "250" in page
    assert "Stages, in the order they ran" in page


def test_bad_customer_attributes_are_refused_and_the_message_kept(flow, agent):
    response = client_for(agent).post(
        f"/w/acme/flows/{flow.pk}/simulator/run/",
        {"message": "Where is my invoice?", "customer_attributes": "just words"},
    )

    page = text(response)
    assert response.status_code == 400
    assert "Line 1: write name=value." in page
    assert "Where is my invoice?" in page


def test_viewers_see_the_simulator_page_without_the_form_and_cannot_run_it(flow, viewer):
    client = client_for(viewer)

    page = text(client.get(f"/w/acme/flows/{flow.pk}/simulator/"))
    forged = client.post(f"/w/acme/flows/{flow.pk}/simulator/run/", {"message": "hello"})

    assert "Only admins and agents run the simulator." in page and "<textarea" not in page
    assert forged.status_code == 403
