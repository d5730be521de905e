"""The console's Flows pages: the flows list, a flow's overview, and the simulator tab (plain form
and htmx)."""

from __future__ import annotations

import html

import pytest
from django.utils.html import escape

from knowledge.models import Article
from routing.models import DecisionTrace
from routing.services import flow_publish, flow_rules_update, flow_settings_update
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

IN_CORPUS = "How long is the password reset link valid?"
REFUND_RULE = {
    "name": "Refunds go to tier 2",
    "match": "any",
    "conditions": [{"fact": "message", "op": "contains_any", "value": ["refund"]}],
    "action": {"type": "handoff", "queue": "Tier 2", "priority": "urgent"},
}


@pytest.fixture
def flow(workspace):
    return workspace.flows.get()


@pytest.fixture
def confident_enough(flow):
    """The fixture's articles are a few lines long: the draft uses a lower threshold so that
    their passages are confident enough to answer from."""
    return flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.4},
        expected_revision=flow.draft_revision,
    )


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def page_url(flow) -> str:
    return f"/w/acme/flows/{flow.pk}/"


def simulate_url(flow) -> str:
    return f"/w/acme/flows/{flow.pk}/simulator/run/"


# --- the flows list ------------------------------------------------------------------------------


def test_flows_list_shows_each_flow_its_live_version_and_whether_the_draft_changed(
    viewer, flow, admin
):
    client = client_for(viewer)

    before = text_of(client.get("/w/acme/flows/"))
    flow_settings_update(
        flow=flow,
        settings={**flow.settings, "max_ai_turns": 6},
        expected_revision=flow.draft_revision,
    )
    changed = text_of(client.get("/w/acme/flows/"))
    flow_publish(flow=flow, published_by=admin)
    published = text_of(client.get("/w/acme/flows/"))

    assert f'<a href="/w/acme/flows/{flow.pk}/">Default flow</a>' in before
    assert "version 1" in before and "Same as published" in before
    assert "Unpublished changes" in changed and ">2</td>" in changed
    assert "version 2" in published and "Same as published" in published


def test_flows_is_a_built_section_highlighted_on_its_pages(viewer, flow):
    client = client_for(viewer)

    listing = client.get("/w/acme/flows/").content.decode()
    detail = client.get(page_url(flow)).content.decode()

    assert "This page is not built yet." not in listing
    assert '<a href="/w/acme/flows/" aria-current="page">Flows</a>' in listing
    assert '<a href="/w/acme/flows/" aria-current="true">Flows</a>' in detail


# --- a flow's page -------------------------------------------------------------------------------


def test_flow_page_shows_the_draft_readably_and_never_an_api_key(
    admin, flow, workspace, monkeypatch
):
    monkeypatch.setenv("ACME_LLM_KEY", "sk-live-very-secret")
    flow = flow_settings_update(
        flow=flow,
        settings={
            **flow.settings,
            "guardrail_prompt": "Answer only from Acme's docs. Never promise refunds.",
            "confidence_threshold": 0.62,
            "languages": ["en", "pt"],
            "default_language": "pt",
            "sentiment_escalate_at": -0.4,
            "sentiment_high_priority_at": -0.8,
            "max_ai_turns": 3,
            "generator": {
                "kind": "openai",
                "base_url": "https://llm.acme.example/v1",
                "model": "gpt-4o-mini",
                "api_key_env": "ACME_LLM_KEY",
            },
        },
        expected_revision=flow.draft_revision,
    )
    flow = flow_rules_update(flow=flow, rules=[REFUND_RULE], expected_revision=flow.draft_revision)
    flow_publish(flow=flow, published_by=admin, note="Refunds to tier 2")

    response = client_for(admin).get(page_url(flow))

    page = text_of(response)
    assert response.status_code == 200
    assert "Answer only from Acme's docs. Never promise refunds." in page
    # The draft's stages, drawn from its settings.
    assert 'data-testid="confidence-threshold">0.62</span>' in page
    assert "Portuguese (default)" in page and "English" in page and "German" not in page
    assert 'data-testid="escalate-at">-0.4 or below' in page
    assert 'data-testid="high-priority-at">-0.8 or below' in page
    assert 'data-testid="max-ai-turns">3 ' in page
    assert 'OpenAI-compatible endpoint · model <code class="break">gpt-4o-mini</code>' in page
    assert "sk-live-very-secret" not in page
    assert "ACME_LLM_KEY" not in page
    # The rule, as a sentence.
    assert 'data-testid="rule-count">1 rule, 1 enabled' in page
    assert "Refunds go to tier 2" in page
    assert "When any of:" in page
    assert "<li>message contains any of “refund”</li>" in page
    assert "Hand off to Tier 2 (urgent priority)" in page
    # Queues and the published version.
    assert 'data-testid="queues">2: Tier 1, Tier 2' in page
    assert "Refunds to tier 2" in page and "Alice Admin" in page
    assert 'version 2 <span class="status status--ready">live</span>' in page
    assert "same as the published version" in page


def test_another_workspaces_flow_is_404(admin, outsider, other_workspace, flow):
    theirs = other_workspace.flows.get()

    assert client_for(outsider).get(page_url(flow)).status_code == 404
    assert client_for(outsider).post(simulate_url(flow), {"message": "Hi"}).status_code == 404
    assert client_for(admin).get(f"/w/acme/flows/{theirs.pk}/").status_code == 404
    assert (
        client_for(admin).post(f"/w/acme/flows/{theirs.pk}/simulator/run/", {"message": "Hi"})
    ).status_code == 404
    assert not DecisionTrace.objects.exists()


# --- the simulator -------------------------------------------------------------------------------


def test_a_plain_form_post_shows_the_whole_page_with_the_answer_and_its_trace(
    synced_source, admin, flow, confident_enough
):
    Article.objects.filter(external_id="en/reset-password.md").update(
        url="https://help.acme.example/reset-password"
    )

    response = client_for(admin).post(simulate_url(flow), {"message": IN_CORPUS})

    page = text_of(response)
    record = DecisionTrace.objects.get()
    assert response.status_code == 200
    assert "<h1>Simulator</h1>" in page  # the whole page
    assert 'data-testid="outcome">Answered</span>' in page
    assert "30 minutes" in page
    # The reply is shown as stored, line breaks included (the region keeps white space).
    assert f'data-testid="reply">{escape(record.reply)}</div>' in response.content.decode()
    assert "\n" in record.reply
    assert (
        '<a class="break" href="https://help.acme.example/reset-password" '
        'rel="noopener noreferrer">Reset your password</a>'
    ) in page  # the cited source
    assert "in English (en)" in page
    assert f"trace #{record.pk}" in page
    assert "No rule fired: the built-in checks decided." in page
    for stage in ("Language detection", "Sentiment", "Retrieval", "Rules", "Answer"):
        assert f'data-label="Stage">{stage}</th><td data-label="Time">' in page
    assert " ms</td>" in page
    assert '<th scope="row" data-label="Fact">Retrieval confidence</th>' in page
    assert "Cosine similarity" in page and "en/reset-password.md" in page
    # The form keeps the message for the next try.
    assert f"{IN_CORPUS}</textarea>" in page
    assert (record.source, record.flow_version, record.draft_revision) == (
        "simulator",
        None,
        confident_enough.draft_revision,
    )


def test_htmx_gets_only_the_result_region_with_the_rule_that_fired(synced_source, agent, flow):
    flow_rules_update(flow=flow, rules=[REFUND_RULE], expected_revision=flow.draft_revision)

    response = client_for(agent).post(
        simulate_url(flow),
        {
            "message": "Can I get a refund for my annual plan?",
            "history": "Hello\n\nI bought the annual plan yesterday\n",
            "customer_name": "Rita",
            "customer_plan": "enterprise",
        },
        HTTP_HX_REQUEST="true",
    )

    page = text_of(response)
    assert response.status_code == 200
    assert "<html" not in page and "<h1>Simulator</h1>" not in page  # only the region
    assert 'data-testid="outcome">Handed off</span>' in page
    assert 'data-testid="reason">A routing rule <code>rule</code>' in page
    assert "<dt>Priority</dt><dd>urgent</dd>" in page and "<dt>Queue</dt><dd>Tier 2</dd>" in page
    assert "Rule “Refunds go to tier 2” fired: Hand off to Tier 2 (urgent priority)." in page
    assert '✓ message contains any of “refund” <span class="muted">(was refund)</span>' in page
    assert (
        '<th scope="row" data-label="Fact">Turns</th><td data-label="Value" class="plain-text">3'
        in page
    )
    assert 'Customer plan</th><td data-label="Value" class="plain-text">enterprise' in page
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_the_simulator_uses_the_draft_not_the_published_version(
    synced_source, admin, flow, confident_enough
):
    strict = flow_settings_update(
        flow=confident_enough,
        settings={**confident_enough.settings, "confidence_threshold": 1.0},
        expected_revision=confident_enough.draft_revision,
    )

    page = text_of(
        client_for(admin).post(simulate_url(flow), {"message": IN_CORPUS}, HTTP_HX_REQUEST="true")
    )

    assert 'data-testid="outcome">Handed off</span>' in page
    assert "Low confidence" in page
    assert "I don't have that exact information, let me connect you with a human expert." in page
    assert f"draft revision {strict.draft_revision}" in page


def test_invalid_input_is_explained_and_nothing_is_simulated(admin, flow):
    client = client_for(admin)

    plain = client.post(simulate_url(flow), {"message": "   "})
    too_long = client.post(simulate_url(flow), {"message": "x" * 4001})
    htmx = client.post(
        simulate_url(flow),
        {"message": "Hi", "history": "\n".join(f"message {n}" for n in range(51))},
        HTTP_HX_REQUEST="true",
    )

    assert plain.status_code == 400
    assert "Write the customer's message." in text_of(plain)
    assert 'id="simulator-form"' in text_of(plain)  # the whole page, with the form
    assert too_long.status_code == 400
    assert "At most 4000 characters, please." in text_of(too_long)
    assert htmx.status_code == 200  # htmx swaps only successful responses
    htmx_page = text_of(htmx)
    assert "Nothing was simulated" in htmx_page
    assert "Earlier messages (optional): At most 50 earlier messages, please." in htmx_page
    assert not DecisionTrace.objects.exists()


def test_viewers_see_the_flow_but_no_simulator_and_cannot_post_to_it(viewer, flow):
    client = client_for(viewer)

    page = text_of(client.get(page_url(flow)))
    simulator = text_of(client.get(f"/w/acme/flows/{flow.pk}/simulator/"))
    posted = client.post(simulate_url(flow), {"message": IN_CORPUS})

    assert 'id="flow-diagram"' in page
    assert 'id="simulator-form"' not in simulator and 'name="message"' not in simulator
    assert "Only admins and agents run the simulator." in simulator
    assert posted.status_code == 403
    assert "This page is for Admin, Agent of Acme. You are Viewer." in text_of(posted)
    assert not DecisionTrace.objects.exists()


@pytest.mark.parametrize("htmx", [False, True])
def test_a_message_with_markup_is_shown_as_text(synced_source, admin, flow, htmx):
    message = "<script>alert('hi')</script> How do I <b>reset</b> my password?"
    headers = {"HX-Request": "true"} if htmx else {}

    response = client_for(admin).post(simulate_url(flow), {"message": message}, headers=headers)

    raw = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert" not in raw and "<b>reset</b>" not in raw
    assert "&lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt;" in raw
    assert DecisionTrace.objects.get().message == message


def test_every_page_of_a_flow_is_linked_from_its_tabs_and_opens_for_every_role(
    flow, admin, agent, viewer
):
    overview = client_for(admin).get(f"/w/acme/flows/{flow.pk}/").content.decode()
    tabs = overview[
        overview.index('<nav class="tabs"') : overview.index(
            "</nav>", overview.index('<nav class="tabs"')
        )
    ]
    links = [part.split('"')[0] for part in tabs.split('href="')[1:]]

    assert len(links) == 8 and links[0] == f"/w/acme/flows/{flow.pk}/"
    assert 'aria-current="page">Overview<' in tabs
    for user in (admin, agent, viewer):
        client = client_for(user)
        assert [client.get(link).status_code for link in links] == [200] * 8, user
