"""A flow's Test questions, Publish and Export / import pages: the saved questions and their run
side by side, the readable diff, publishing (refused without confirmation while questions fail),
rollback, the flow as YAML and back, and who may do what."""

from __future__ import annotations

import html
import json
import re

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from console.audit import audit_entries_of_workspace
from routing.flow_yaml import flow_export_yaml
from routing.models import FlowVersion, TestQuestion
from routing.question_set import question_save
from routing.services import flow_publish, flow_rules_update, flow_settings_update
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

REFUND_RULE = {
    "name": "Refunds go to tier 2",
    "match": "any",
    "conditions": [{"fact": "message", "op": "contains_any", "value": ["refund"]}],
    "action": {"type": "handoff", "queue": "Tier 2", "priority": "urgent"},
}
RESET_LINK = {
    "name": "reset-link",
    "turns": ["How long is the password reset link valid?"],
    "customer": {"name": "Ana", "plan": "team"},
    "expected_outcome": "answer",
    "expected_articles": ["en/reset-password.md"],
    "expected_language": "en",
}
KUBERNETES = {
    "name": "kubernetes",
    "turns": ["How do I configure a Kubernetes ingress controller for my cluster?"],
    "expected_outcome": "handoff",
    "expected_reason": "low_confidence",
}


@pytest.fixture
def flow(workspace):
    return workspace.flows.get()


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def squeezed(response) -> str:
    """The page's text without tags, whitespace collapsed: what a person reads."""
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(text))


def url(flow, path: str = "") -> str:
    return f"/w/acme/flows/{flow.pk}/{path}"


def set_threshold(flow, value: float):
    flow.refresh_from_db()
    return flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": value},
        expected_revision=flow.draft_revision,
    )


@pytest.fixture
def draft_stricter_than_published(flow, admin, synced_source):
    """Published: answers the tiny help center (0.4). Draft: demands more confidence than any
    passage reaches (0.99), so the reset-link question passes published and fails on the draft."""
    question_save(workspace=flow.workspace, data=RESET_LINK, by=admin)
    question_save(workspace=flow.workspace, data=KUBERNETES, by=admin)
    flow_publish(flow=set_threshold(flow, 0.4), published_by=admin, note="Confident enough")
    return set_threshold(flow, 0.99)


# --- test questions ------------------------------------------------------------------------------


def test_every_member_sees_the_questions_but_only_admins_get_the_controls(
    flow, admin, agent, viewer
):
    question_save(workspace=flow.workspace, data=RESET_LINK, by=admin)

    pages = {
        user: squeezed(client_for(user).get(url(flow, "tests/"))) for user in (admin, agent, viewer)
    }

    for page in pages.values():
        assert "reset-link" in page and "How long is the password reset link valid?" in page
        assert "name: Ana" in page and "plan: team" in page
        assert "The AI answers citing en/reset-password.md first in English" in page
    assert "Add a test question" in pages[admin] and "Import questions" in pages[admin]
    assert "Run against draft and published" in pages[admin]
    assert "Run against draft and published" in pages[agent]
    for page in (pages[agent], pages[viewer]):
        assert "Add a test question" not in page and "Delete" not in page and "Edit" not in page
    assert "Run against draft and published" not in pages[viewer]
    assert "Admins and agents run the questions." in pages[viewer]


def test_an_admin_adds_a_question_with_customer_attributes_and_expected_articles(
    flow, admin, synced_source
):
    client = client_for(admin)
    form = client.get(url(flow, "tests/new/"))

    response = client.post(
        url(flow, "tests/new/"),
        {
            "name": "angry-enterprise",
            "turns": "My invoice is wrong\n\nThis is the third time I ask!",
            "customer_name": "Bea",
            "customer_plan": "enterprise",
            "customer_language": "pt",
            "customer_attributes": "company = Globo\nseats=40",
            "expected_outcome": "handoff",
            "expected_reason": "sentiment",
            "expected_priority": "high",
        },
    )

    # The article picker suggests the workspace's articles.
    assert '<option value="en/reset-password.md">Reset your password</option>' in text_of(form)
    assert response.status_code == 302 and response["Location"] == url(flow, "tests/")
    question = TestQuestion.objects.get(workspace=flow.workspace, name="angry-enterprise")
    assert question.turns == ["My invoice is wrong", "This is the third time I ask!"]
    assert question.customer == {
        "name": "Bea",
        "plan": "enterprise",
        "language": "pt",
        "company": "Globo",
        "seats": "40",
    }
    assert (question.expected_outcome, question.expected_reason, question.expected_priority) == (
        "handoff",
        "sentiment",
        "high",
    )
    listed = squeezed(client.get(url(flow, "tests/")))
    assert "Added the test question “angry-enterprise”." in listed
    assert "The AI hands off for negative sentiment at high priority" in listed
    assert audit_entries_of_workspace(workspace=flow.workspace, area="test questions").get().user


def test_a_bad_question_is_refused_field_by_field_and_keeps_what_was_typed(
    flow, admin, synced_source
):
    response = client_for(admin).post(
        url(flow, "tests/new/"),
        {
            "name": "typo",
            "turns": "  \n ",
            "customer_attributes": "company Globo",
            "expected_outcome": "answer",
            "expected_articles": "en/reset-pasword.md",
            "expected_priority": "urgent",
        },
    )

    page = text_of(response)
    assert response.status_code == 400
    assert "Nothing was saved: see the marked fields below." in page
    assert 'id="id_turns_error"' in page and "Write at least one customer message." in page
    assert 'aria-describedby="id_turns_helptext id_turns_error"' in page
    assert "Line 1: write name=value, e.g. company=Acme." in page
    assert "No article has the id “en/reset-pasword.md” in this workspace" in page
    assert "This applies when the AI hands off" in page
    assert 'value="typo"' in page and "\ncompany Globo</textarea>" in page
    assert "\nen/reset-pasword.md</textarea>" in page
    assert not TestQuestion.objects.exists()


def test_articles_are_refused_for_a_handoff_rather_than_silently_dropped(
    flow, admin, synced_source
):
    response = client_for(admin).post(
        url(flow, "tests/new/"),
        {
            "name": "x",
            "turns": "Hi",
            "expected_outcome": "handoff",
            "expected_articles": "en/billing.md",
        },
    )

    page = text_of(response)
    assert response.status_code == 400
    assert "Articles apply when the AI answers: clear them, or expect an answer." in page


def test_editing_a_question_shows_it_and_saves_it(flow, admin, synced_source):
    question = question_save(workspace=flow.workspace, data=RESET_LINK, by=admin)
    client = client_for(admin)
    edit_url = url(flow, f"tests/{question.pk}/edit/")

    form = text_of(client.get(edit_url))
    response = client.post(
        edit_url,
        {
            "name": "reset-link",
            "turns": "When does the reset link expire?",
            "customer_name": "Ana",
            "customer_plan": "team",
            "expected_outcome": "answer",
            "expected_articles": "en/reset-password.md",
            "expected_language": "en",
            "updated_at": question.updated_at.isoformat(),
        },
    )

    assert "\nHow long is the password reset link valid?</textarea>" in form
    assert 'value="team"' in form and "\nen/reset-password.md</textarea>" in form
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.turns == ["When does the reset link expire?"]


def test_a_question_someone_else_changed_meanwhile_is_not_overwritten(flow, admin):
    question = question_save(workspace=flow.workspace, data=KUBERNETES, by=admin)
    opened_at = question.updated_at.isoformat()
    question_save(
        workspace=flow.workspace,
        data={**KUBERNETES, "turns": ["Their change"]},
        by=admin,
        question=question,
    )

    response = client_for(admin).post(
        url(flow, f"tests/{question.pk}/edit/"),
        {
            "name": "kubernetes",
            "turns": "My change",
            "expected_outcome": "handoff",
            "updated_at": opened_at,
        },
    )

    page = text_of(response)
    assert response.status_code == 400
    assert "Someone else changed this test question since you opened it." in page
    assert "\nMy change</textarea>" in page
    question.refresh_from_db()
    assert question.turns == ["Their change"]


def test_an_admin_deletes_a_question(flow, admin):
    question = question_save(workspace=flow.workspace, data=KUBERNETES, by=admin)
    client = client_for(admin)

    response = client.post(url(flow, f"tests/{question.pk}/delete/"))

    assert response.status_code == 302
    assert not TestQuestion.objects.exists()
    assert "Deleted the test question “kubernetes”." in squeezed(client.get(url(flow, "tests/")))


def jsonl(*cases: object) -> bytes:
    return "".join(json.dumps(case) + "\n" for case in cases).encode()


CASE = {
    "id": "reset-link",
    "turns": ["How long is the password reset link valid?"],
    "expect": {"outcome": "answer", "articles": ["en/reset-password.md"]},
}


def test_importing_a_jsonl_file_adds_the_questions(flow, admin):
    client = client_for(admin)

    response = client.post(
        url(flow, "tests/import/"),
        {"file": SimpleUploadedFile("cases.jsonl", jsonl(CASE, {**CASE, "id": "again"}))},
    )

    assert response.status_code == 302
    assert sorted(TestQuestion.objects.values_list("name", flat=True)) == ["again", "reset-link"]
    assert "Imported 2 new and updated 0 test questions." in squeezed(
        client.get(url(flow, "tests/"))
    )


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (jsonl(CASE) + b"{not json}\n", "Line 2: not JSON"),
        (jsonl(CASE, {**CASE, "expect": {"outcome": "maybe"}}), "Line 2: expected_outcome:"),
        ("é".encode("latin-1"), "The file is not UTF-8 text."),
        (b"", "The file holds no cases"),
    ],
)
def test_a_bad_jsonl_file_names_its_line_and_imports_nothing(flow, admin, content, error):
    response = client_for(admin).post(
        url(flow, "tests/import/"), {"file": SimpleUploadedFile("cases.jsonl", content)}
    )

    page = text_of(response)
    assert response.status_code == 400
    assert 'id="id_file_error"' in page and error in page
    assert "Nothing was imported." in page
    assert not TestQuestion.objects.exists()


def test_the_set_downloads_as_jsonl_in_the_case_format(flow, admin, viewer):
    question_save(workspace=flow.workspace, data=RESET_LINK, by=admin)

    response = client_for(viewer).get(url(flow, "tests/export.jsonl"))

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="test-questions-acme.jsonl"'
    assert [json.loads(line) for line in response.content.decode().splitlines()] == [
        {
            "id": "reset-link",
            "turns": ["How long is the password reset link valid?"],
            "customer": {"name": "Ana", "plan": "team"},
            "expect": {"outcome": "answer", "articles": ["en/reset-password.md"], "language": "en"},
        }
    ]


def test_running_the_set_shows_draft_and_published_side_by_side(
    flow, agent, draft_stricter_than_published
):
    response = client_for(agent).post(url(flow, "tests/run/"), HTTP_HX_REQUEST="true")

    page = squeezed(response)
    assert response.status_code == 200 and "<html" not in response.content.decode()
    assert "Draft: 1 of 2 pass · published: 2 of 2 pass · 1 changed" in page
    rows = re.findall(r'<tr class="run-row[^"]*" data-question="([^"]+)"', text_of(response))
    assert rows == ["reset-link", "kubernetes"]  # failing and changed first
    first = squeezed(response).split("reset-link", 1)[1].split("kubernetes", 1)[0]
    assert "✗ Failed Expected answer, got handoff" in first
    assert "✓ Passed Answered in English Cites en/reset-password.md first" in first
    assert "Changed" in first
    assert "Done. Draft: 1 of 2 pass." in page  # the status region, out of band


def test_running_without_htmx_shows_the_whole_page_with_the_results(
    flow, admin, draft_stricter_than_published
):
    response = client_for(admin).post(url(flow, "tests/run/"))

    page = squeezed(response)
    assert "<html" in response.content.decode()
    assert "Draft: 1 of 2 pass" in page and "Saved questions (2)" in page


def test_running_with_no_questions_says_so(flow, admin):
    response = client_for(admin).post(url(flow, "tests/run/"), HTTP_HX_REQUEST="true")

    assert "There are no test questions yet" in squeezed(response)


# --- publishing ----------------------------------------------------------------------------------


def test_the_publish_page_shows_what_changed_as_a_readable_diff(flow, admin, viewer):
    flow = set_threshold(flow, 0.62)
    flow_rules_update(flow=flow, rules=[REFUND_RULE], expected_revision=flow.draft_revision)

    admin_page = squeezed(client_for(admin).get(url(flow, "publish/")))
    viewer_page = squeezed(client_for(viewer).get(url(flow, "publish/")))

    assert "Changes since version 1" in admin_page
    assert "Confidence threshold changed 0.5 0.62" in admin_page
    assert (
        "Rule “Refunds go to tier 2” added — When any of: message contains any of “refund” "
        "Then: Hand off to Tier 2 (urgent priority)"
    ) in admin_page
    assert "Publish version 2" in admin_page
    assert "Changes since version 1" in viewer_page and "Confidence threshold" in viewer_page
    assert "Publish version" not in viewer_page and "Roll back" not in viewer_page


def test_with_nothing_changed_there_is_nothing_to_publish(flow, admin):
    client = client_for(admin)

    page = squeezed(client.get(url(flow, "publish/")))
    refused = client.post(
        url(flow, "publish/version/"), {"revision": flow.draft_revision, "note": "Again"}
    )

    assert "Nothing to publish: the draft is the same as version 1" in page
    assert "Publish version" not in page
    assert refused.status_code == 400
    assert "Nothing to publish: the draft is the same as version 1, which is live." in squeezed(
        refused
    )
    assert flow.versions.count() == 1


def test_publishing_with_failing_questions_needs_the_confirmation_of_that_many_failures(
    flow, admin, draft_stricter_than_published
):
    client = client_for(admin)
    revision = draft_stricter_than_published.draft_revision

    unconfirmed = client.post(url(flow, "publish/version/"), {"revision": revision, "note": "N"})
    wrong_count = client.post(
        url(flow, "publish/version/"),
        {"revision": revision, "note": "N", "confirm_failures": "2"},
    )

    page = squeezed(unconfirmed)
    assert unconfirmed.status_code == 400 and wrong_count.status_code == 400
    assert "1 of 2 test questions fails on this draft." in page
    assert 'name="confirm_failures" value="1"' in unconfirmed.content.decode()
    assert "Publish although 1 test question fails" in page
    assert "✗ Failed Expected answer, got handoff" in page  # the failures, shown
    assert 'value="N"' in unconfirmed.content.decode()  # the note is kept
    assert flow.versions.count() == 2  # the default flow's, and the fixture's

    confirmed = client.post(
        url(flow, "publish/version/"),
        {"revision": revision, "note": "Stricter", "confirm_failures": "1"},
    )

    assert confirmed.status_code == 302
    version = flow.versions.get(number=3)
    assert (
        version.note,
        version.published_by,
        version.snapshot["settings"]["confidence_threshold"],
    ) == (
        "Stricter",
        admin,
        0.99,
    )
    page = squeezed(client.get(url(flow, "publish/")))
    assert "Published version 3. Customers get it from their next message." in page
    assert "3 live" in page and "Stricter" in page and "Alice Admin" in page


def test_publishing_a_draft_that_changed_since_it_was_reviewed_is_refused(flow, admin):
    opened = set_threshold(flow, 0.6)
    set_threshold(flow, 0.7)  # someone else's change after the page was opened

    response = client_for(admin).post(
        url(flow, "publish/version/"), {"revision": opened.draft_revision, "note": "Mine"}
    )

    page = squeezed(response)
    assert response.status_code == 400
    assert "Someone else changed this draft since you opened it" in page
    assert 'value="Mine"' in response.content.decode()
    assert flow.versions.count() == 1


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"revision": "yesterday"}, "Reload the page and publish again."),
        ({"confirm_failures": "all of them"}, "Enter a whole number."),
        ({"confirm_failures": "-3"}, "Ensure this value is greater than or equal to 1."),
        ({"note": "n" * 201}, "At most 200 characters, please."),
    ],
)
def test_a_malformed_publish_request_is_refused_with_a_clear_message(flow, admin, data, error):
    flow = set_threshold(flow, 0.6)

    response = client_for(admin).post(
        url(flow, "publish/version/"), {"revision": flow.draft_revision, **data}
    )

    assert response.status_code == 400
    assert error in text_of(response)
    assert flow.versions.count() == 1


def test_a_malformed_rollback_request_rolls_nothing_back(flow, admin):
    first = flow.versions.get()
    client = client_for(admin)

    response = client.post(url(flow, f"publish/versions/{first.pk}/rollback/"), {"revision": ""})

    assert response.status_code == 302
    assert "Nothing was rolled back: reload the page and try again." in squeezed(
        client.get(url(flow, "publish/"))
    )
    assert flow.versions.count() == 1


def test_checking_the_questions_on_the_publish_page_offers_the_confirmation(
    flow, admin, draft_stricter_than_published
):
    response = client_for(admin).post(url(flow, "publish/check/"), HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert "1 of 2 test questions fails on the draft" in squeezed(response)
    assert '<div id="publish-confirm" hx-swap-oob="true">' in body
    assert 'name="confirm_failures" value="1"' in body


def test_rolling_back_publishes_the_earlier_version_again_and_resets_the_draft(flow, admin):
    flow_publish(flow=set_threshold(flow, 0.7), published_by=admin, note="Stricter")
    flow = set_threshold(flow, 0.8)  # an unpublished change, which the rollback discards
    first = flow.versions.get(number=1)
    client = client_for(admin)

    page = squeezed(client.get(url(flow, "publish/")))
    response = client.post(
        url(flow, f"publish/versions/{first.pk}/rollback/"), {"revision": flow.draft_revision}
    )

    assert "Roll back to version 1…" in page
    assert "the draft\u2019s unpublished changes are lost" in page
    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.published_version.number == 3
    assert flow.published_version.snapshot == first.snapshot
    assert flow.settings["confidence_threshold"] == 0.5
    after = squeezed(client.get(url(flow, "publish/")))
    assert "Rolled back to version 1: it is live again as version 3" in after
    assert "3 live" in after and "Rollback to version 1" in after
    assert audit_entries_of_workspace(workspace=flow.workspace, area="publishing").count() == 3


def test_a_rollback_over_a_draft_changed_meanwhile_is_refused(flow, admin):
    opened_at = flow.draft_revision
    set_threshold(flow, 0.8)
    first = flow.versions.get(number=1)
    client = client_for(admin)

    response = client.post(
        url(flow, f"publish/versions/{first.pk}/rollback/"), {"revision": opened_at}
    )

    assert response.status_code == 302
    assert "Nothing was rolled back. Someone else changed this draft" in squeezed(
        client.get(url(flow, "publish/"))
    )
    flow.refresh_from_db()
    assert flow.settings["confidence_threshold"] == 0.8 and flow.versions.count() == 1


# --- export / import -----------------------------------------------------------------------------


def test_the_export_is_previewed_and_downloaded_as_yaml(flow, admin, viewer):
    flow_rules_update(flow=flow, rules=[REFUND_RULE], expected_revision=flow.draft_revision)

    admin_page = text_of(client_for(admin).get(url(flow, "export/")))
    viewer_page = text_of(client_for(viewer).get(url(flow, "export/")))
    download = client_for(viewer).get(url(flow, "export/flow.yaml"))

    assert "confidence_threshold: 0.5" in admin_page and "Import into the draft" in admin_page
    assert (
        '<pre class="code yaml-preview"' in viewer_page
        and "- name: Refunds go to tier 2" in viewer_page
    )
    assert "Import into the draft" not in viewer_page and "<textarea" not in viewer_page
    assert download["Content-Disposition"] == 'attachment; filename="default-flow.yaml"'
    assert download["Content-Type"] == "application/yaml; charset=utf-8"
    assert yaml.safe_load(download.content)["rules"][0]["name"] == "Refunds go to tier 2"


def test_an_edited_export_is_imported_into_the_draft_and_the_changes_are_listed(flow, admin):
    flow.refresh_from_db()
    text = flow_export_yaml(flow).replace("confidence_threshold: 0.5", "confidence_threshold: 0.6")

    response = client_for(admin).post(
        url(flow, "export/import/"), {"yaml_text": text, "revision": flow.draft_revision}
    )

    page = squeezed(response)
    assert response.status_code == 200
    assert "Imported into the draft: 1 change." in page
    assert "Confidence threshold changed 0.5 0.6" in page
    flow.refresh_from_db()
    assert flow.settings["confidence_threshold"] == 0.6
    assert "confidence_threshold: 0.6" in text_of(response)  # the editor shows the new draft
    assert f'name="revision" value="{flow.draft_revision}"' in response.content.decode()


def test_a_yaml_file_can_be_imported_too(flow, admin):
    response = client_for(admin).post(
        url(flow, "export/import/"),
        {
            "yaml_text": "",
            "yaml_file": SimpleUploadedFile("flow.yaml", b"settings:\n  max_ai_turns: 7\n"),
            "revision": flow.draft_revision,
        },
    )

    assert response.status_code == 200
    flow.refresh_from_db()
    assert flow.settings["max_ai_turns"] == 7


def test_a_bad_yaml_names_each_line_keeps_the_text_and_imports_nothing(flow, admin):
    text = "flow: Default flow\nsettings:\n  confidence_threshold: 2\n  languages: [en, xx]\n"
    before = dict(flow.settings)

    response = client_for(admin).post(
        url(flow, "export/import/"), {"yaml_text": text, "revision": flow.draft_revision}
    )

    page = squeezed(response)
    assert response.status_code == 400
    assert "Nothing was imported: 2 problems in the YAML" in page
    assert "line 3 : confidence_threshold: Must be between 0 and 1." in page
    assert "line 4 : languages: 'xx' is not supported" in page
    assert 'data-goto-line="3"' in response.content.decode()
    assert text in text_of(response)  # what was typed, not the export
    assert 'aria-describedby="id_yaml_text_helptext yaml-problems"' in response.content.decode()
    flow.refresh_from_db()
    assert flow.settings == before


def test_a_yaml_syntax_error_names_its_line(flow, admin):
    response = client_for(admin).post(
        url(flow, "export/import/"),
        {"yaml_text": "settings:\n  max_ai_turns: [3\n", "revision": flow.draft_revision},
    )

    assert response.status_code == 400
    assert "line 3 : not valid YAML:" in squeezed(response)


def test_an_import_over_a_draft_changed_meanwhile_is_refused_and_keeps_the_text(flow, admin):
    opened_at = flow.draft_revision
    set_threshold(flow, 0.7)

    response = client_for(admin).post(
        url(flow, "export/import/"),
        {"yaml_text": "settings:\n  max_ai_turns: 9\n", "revision": opened_at},
    )

    page = squeezed(response)
    assert response.status_code == 400
    assert "Someone else changed this draft since you opened it" in page
    assert "max_ai_turns: 9" in text_of(response)
    flow.refresh_from_db()
    assert flow.settings["max_ai_turns"] == 4


def test_an_empty_import_asks_for_the_yaml(flow, admin):
    response = client_for(admin).post(
        url(flow, "export/import/"), {"yaml_text": "  ", "revision": flow.draft_revision}
    )

    assert response.status_code == 400
    assert "Paste the flow's YAML here, or choose a file below." in text_of(response)


# --- who may do what -----------------------------------------------------------------------------

ADMIN_POSTS = [
    "tests/new/",
    "tests/{question}/edit/",
    "tests/{question}/delete/",
    "tests/import/",
    "publish/version/",
    "publish/versions/{version}/rollback/",
    "export/import/",
]
PAGES = ["tests/", "tests/new/", "tests/export.jsonl", "publish/", "export/", "export/flow.yaml"]


def _path(template: str, question: TestQuestion, version: FlowVersion) -> str:
    return template.format(question=question.pk, version=version.pk)


@pytest.mark.parametrize("path", ADMIN_POSTS)
def test_agents_and_viewers_cannot_change_anything_even_with_a_forged_post(
    flow, admin, agent, viewer, path
):
    question = question_save(workspace=flow.workspace, data=KUBERNETES, by=admin)
    version = flow.versions.get()
    flow = set_threshold(flow, 0.7)
    data = {
        "name": "forged",
        "turns": "Hi",
        "expected_outcome": "answer",
        "revision": flow.draft_revision,
        "yaml_text": "settings:\n  max_ai_turns: 9\n",
        "updated_at": question.updated_at.isoformat(),
    }

    for user in (agent, viewer):
        response = client_for(user).post(url(flow, _path(path, question, version)), data)
        assert response.status_code == 403
        assert "Admin" in response.content.decode()

    question.refresh_from_db()
    flow.refresh_from_db()
    assert question.name == "kubernetes" and TestQuestion.objects.count() == 1
    assert flow.settings["max_ai_turns"] == 4 and flow.versions.count() == 1


def test_viewers_do_not_run_the_questions(flow, viewer):
    for path in ("tests/run/", "publish/check/"):
        assert client_for(viewer).post(url(flow, path)).status_code == 403


def test_another_workspace_gets_404_for_every_page_and_action(
    flow, admin, outsider, other_workspace
):
    question = question_save(workspace=flow.workspace, data=KUBERNETES, by=admin)
    version = flow.versions.get()
    theirs = other_workspace.flows.get()
    outsider_client = client_for(outsider)

    for path in PAGES:
        assert outsider_client.get(url(flow, _path(path, question, version))).status_code == 404
    for path in [*ADMIN_POSTS, "tests/run/", "publish/check/"]:
        assert outsider_client.post(url(flow, _path(path, question, version))).status_code == 404
    # Nor does an admin of Acme reach Globex's flow, or Acme's question through Globex's flow.
    admin_client = client_for(admin)
    assert admin_client.get(f"/w/acme/flows/{theirs.pk}/publish/").status_code == 404
    assert admin_client.get(f"/w/globex/flows/{theirs.pk}/tests/").status_code == 404
    their_version = theirs.versions.get()
    assert (
        admin_client.post(
            url(flow, f"publish/versions/{their_version.pk}/rollback/"),
            {"revision": flow.draft_revision},
        ).status_code
        == 404
    )
    assert TestQuestion.objects.count() == 1 and theirs.versions.count() == 1
