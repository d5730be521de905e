"""Support flows: every workspace answers at once; drafts, publishing and rollback."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError

from routing.flow_settings import DEFAULT_FALLBACK_MESSAGES, FlowSettings
from routing.selectors import published_version, version_settings
from routing.services import (
    DraftChangedError,
    flow_publish,
    flow_rollback,
    flow_settings_update,
)

pytestmark = pytest.mark.django_db


def test_a_new_workspace_has_a_published_default_flow(workspace):
    version = published_version(workspace=workspace)

    assert version is not None and version.number == 1
    settings = version_settings(version)
    assert settings.languages == ("en", "pt", "es", "fr", "de")
    assert settings.fallback_messages["en"] == (
        "I don't have that exact information, let me connect you with a human expert."
    )
    assert set(settings.fallback_messages) == set(DEFAULT_FALLBACK_MESSAGES)
    assert settings.generator.kind == "grounded"


def test_ingest_created_workspaces_answer_at_once(tmp_path):
    from django.core.management import call_command

    from console.models import Workspace

    (tmp_path / "faq.md").write_text("# FAQ\n\nWe answer within one business day.\n")
    call_command("ingest", str(tmp_path), "--workspace", "fresh", stdout=io.StringIO())

    assert published_version(workspace=Workspace.objects.get(slug="fresh")) is not None


def test_publishing_freezes_the_draft_and_keeps_history(workspace, admin):
    flow = workspace.flows.get()
    flow = flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.7},
        expected_revision=flow.draft_revision,
    )

    version = flow_publish(flow=flow, published_by=admin, note="Stricter")
    flow_settings_update(
        flow=flow, settings={**flow.settings, "confidence_threshold": 0.2}, expected_revision=2
    )

    live = published_version(workspace=workspace)
    assert version.number == 2 and version.published_by == admin
    assert live is not None and version_settings(live).confidence_threshold == 0.7
    assert list(flow.versions.values_list("number", flat=True)) == [2, 1]


def test_rollback_publishes_the_old_snapshot_as_a_new_version(workspace, admin):
    flow = workspace.flows.get()
    first = flow.versions.get(number=1)
    flow = flow_settings_update(
        flow=flow, settings={**flow.settings, "max_ai_turns": 9}, expected_revision=1
    )
    flow_publish(flow=flow, published_by=admin)

    rolled = flow_rollback(flow=flow, version=first, published_by=admin)

    flow.refresh_from_db()
    assert rolled.number == 3 and rolled.note == "Rollback to version 1"
    assert version_settings(rolled).max_ai_turns == FlowSettings().max_ai_turns
    assert flow.published_version == rolled
    assert flow.settings["max_ai_turns"] == FlowSettings().max_ai_turns


def test_rollback_to_another_flows_version_is_refused(workspace, other_workspace, admin):
    foreign = other_workspace.flows.get().versions.get()

    with pytest.raises(ValidationError, match="another flow"):
        flow_rollback(flow=workspace.flows.get(), version=foreign, published_by=admin)


def test_a_second_admins_stale_save_is_refused(workspace):
    flow = workspace.flows.get()
    opened_at = flow.draft_revision
    flow_settings_update(
        flow=flow, settings={**flow.settings, "max_ai_turns": 5}, expected_revision=opened_at
    )

    with pytest.raises(DraftChangedError, match="Someone else changed this draft"):
        flow_settings_update(
            flow=flow, settings={**flow.settings, "max_ai_turns": 7}, expected_revision=opened_at
        )
    flow.refresh_from_db()
    assert flow.settings["max_ai_turns"] == 5


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"confidence_threshold": 1.5}, "confidence_threshold", "between 0 and 1"),
        ({"confidence_threshold": "high"}, "confidence_threshold", "Must be a number."),
        ({"languages": ["en", "xx"]}, "languages", "'xx' is not supported"),
        ({"languages": ["pt"], "default_language": "en"}, "default_language", "enabled ones"),
        ({"guardrail_prompt": "  "}, "guardrail_prompt", "cannot be empty"),
        ({"sentiment_high_priority_at": 0.2}, "sentiment_high_priority_at", "at or below"),
        ({"max_ai_turns": 0}, "max_ai_turns", "between 1 and 50"),
        ({"fallback_messages": {"en": "Sorry"}}, "fallback_messages", "Missing the 'pt' text"),
        ({"generator": {"kind": "openai"}}, "generator", "needs a base URL"),
        ({"generator": {"kind": "magic"}}, "generator", "'grounded' or 'openai'"),
        ({"colour": "blue"}, "colour", "Unknown setting 'colour'"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(workspace, change, field, message):
    flow = workspace.flows.get()

    with pytest.raises(ValidationError) as error:
        flow_settings_update(
            flow=flow, settings={**flow.settings, **change}, expected_revision=flow.draft_revision
        )

    assert message in " ".join(error.value.message_dict[field])
    flow.refresh_from_db()
    assert flow.draft_revision == 1


@pytest.mark.parametrize(
    "name", ["SECRET_KEY", "DATABASE_URL", "EMBEDDING_API_KEY", "HOME", "lowercase_api_key"]
)
def test_the_llm_key_cannot_be_read_from_the_servers_own_settings(name):
    """Whoever sets the base URL would receive the "API key": it must be one meant for an LLM."""
    generator = {"kind": "openai", "base_url": "https://llm.example/v1", "model": "m"}

    with pytest.raises(ValidationError) as refused:
        FlowSettings.from_json({"generator": {**generator, "api_key_env": name}})
    for allowed in ("OPENAI_API_KEY", "ACME_LLM_KEY", "LLM_TOKEN"):
        FlowSettings.from_json({"generator": {**generator, "api_key_env": allowed}})

    assert "never one of the server's own settings" in refused.value.message_dict["generator"][0]


def test_a_guardrail_with_unknown_variables_is_refused_wherever_settings_come_from():
    with pytest.raises(ValidationError) as refused:
        FlowSettings.from_json({"guardrail_prompt": "Hi {customer_name}, you are on {plan}."})
    accepted = FlowSettings.from_json(
        {"guardrail_prompt": 'You help {company}\'s customers in {language}. Example: {"a": 1}'}
    )

    assert refused.value.message_dict["guardrail_prompt"] == [
        "Unknown variables {customer_name}, {plan}: the prompt may use {company} and {language}."
    ]
    assert accepted.guardrail_prompt.startswith("You help {company}")
