"""The embeddable chat widget: the sites allowed to frame a workspace's chat page, the headers
that make browsers enforce it, the console page that shows the snippet and edits the sites, and
the REST endpoint."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from console.models import Role
from console.services import membership_set, workspace_create
from conversations.models import ChatWidgetSettings
from conversations.widget import (
    ALLOWED_ORIGINS_MAX,
    allowed_origins_normalise,
    chat_widget_origins_update,
    origin_normalise,
)
from tests.conftest import client_for
from tests.conversations.conftest import key_client, session_client

pytestmark = pytest.mark.django_db

SHOP = "https://shop.acme.example"


def allow(workspace, *origins: str) -> None:
    chat_widget_origins_update(workspace=workspace, origins=origins, updated_by=None)


def stored_origins(workspace) -> list[str]:
    settings = ChatWidgetSettings.objects.filter(workspace=workspace).first()
    return settings.allowed_origins if settings else []


# --- Which origins are accepted, and in what form they are stored ---------------------------


@pytest.mark.parametrize(
    ("entry", "stored"),
    [
        ("https://www.example.com", "https://www.example.com"),
        ("  HTTPS://Shop.Example.COM/  ", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://shop.example.com:80", "http://shop.example.com"),
        ("https://shop.example.com:8443", "https://shop.example.com:8443"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[0:0::1]:8000", "http://[::1]:8000"),
        ("https://*.example.com", "https://*.example.com"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
    ],
)
def test_an_origin_is_stored_in_the_form_browsers_compare(entry, stored):
    assert origin_normalise(entry) == stored


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("www.example.com", "write the whole origin with its scheme, e.g. https://www.example.com"),
        ("ftp://example.com", "only http:// and https:// sites can embed the chat"),
        ("javascript:alert(1)", "write the whole origin with its scheme"),
        ("https://example.com/help", "leave out the path (/help)"),
        ("https://example.com/?page=1", "leave out the query and fragment"),
        ("https://example.com#top", "leave out the query and fragment"),
        ("https://user:pw@example.com", "leave out the user name"),
        ("https://", "the host is missing"),
        ("https://*", "a wildcard can only stand for the subdomains of a domain"),
        ("https://shop.*.example.com", "a wildcard can only stand for the subdomains"),
        ("https://*.com", "a wildcard needs a domain of two parts or more"),
        ("https://*.10.0.0.1", "a wildcard needs a domain name, not an address"),
        ("https://example.com:99999", "the port must be a number from 1 to 65535"),
        ("https://example.com:", "the port must be a number from 1 to 65535"),
        ("https://exa mple.com", "“exa mple.com” is not a host name"),
        ("https://example..com", "is not a host name"),
        ("https://under_score.example", "is not a host name"),
        ("https://999.1.1.1", "is not a host name"),
        ("https://[::1", "an IPv6 address needs its closing bracket"),
        ("https://[nope]", "is not an IPv6 address"),
        ("https://exa\x00mple.com", "is not a host name"),
        ("https://a.example;script-src *", "is not a host name"),
        ("https://a.example 'unsafe-inline'", "is not a host name"),
        ("https://" + "a" * 300 + ".example", "is longer than 300 characters"),
    ],
)
def test_anything_but_an_origin_is_refused_with_a_reason(entry, message):
    with pytest.raises(ValidationError) as refused:
        origin_normalise(entry)

    assert message in refused.value.messages[0]


def test_a_list_keeps_the_admins_order_without_blanks_or_duplicates():
    origins = allowed_origins_normalise(
        ["https://b.example", "", "  ", "https://A.example", "https://b.example/"]
    )

    assert origins == ["https://b.example", "https://a.example"]


def test_every_bad_entry_is_named_by_its_position_and_text():
    with pytest.raises(ValidationError) as refused:
        allowed_origins_normalise(
            ["https://ok.example", "", "ftp://files.example", "shop.example"], entry_label="Line"
        )

    assert refused.value.message_dict["allowed_origins"] == [
        "Line 3 (“ftp://files.example”): only http:// and https:// sites can embed the chat.",
        "Line 4 (“shop.example”): write the whole origin with its scheme, "
        "e.g. https://www.example.com.",
    ]


def test_at_most_twenty_sites_once_duplicates_are_dropped():
    twenty = [f"https://site{number}.example" for number in range(ALLOWED_ORIGINS_MAX)]
    assert len(allowed_origins_normalise([*twenty, *twenty])) == ALLOWED_ORIGINS_MAX

    with pytest.raises(ValidationError) as refused:
        allowed_origins_normalise([*twenty, "https://one-more.example"])

    assert refused.value.messages == [
        "At most 20 sites can embed the chat; this list has 21. A wildcard such as "
        "https://*.example.com covers every subdomain."
    ]


def test_a_long_list_of_mistakes_names_the_first_ten_and_counts_the_rest():
    with pytest.raises(ValidationError) as refused:
        allowed_origins_normalise([f"nonsense {number}" for number in range(1, 26)])

    messages = refused.value.messages
    assert len(messages) == 11
    assert messages[0].startswith("Entry 1 (“nonsense 1”)")
    assert messages[-1] == "… and 15 more entries that are not origins."


def test_a_refused_list_changes_nothing(workspace):
    allow(workspace, SHOP)

    with pytest.raises(ValidationError):
        allow(workspace, "https://new.example", "nonsense")

    assert stored_origins(workspace) == [SHOP]


# --- The chat page: who may frame it ---------------------------------------------------------


def test_without_allowed_sites_only_the_chat_server_may_frame_the_chat(workspace):
    response = Client().get("/chat/acme/")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_allowed_sites_may_frame_the_chat_and_no_others(workspace):
    allow(workspace, SHOP, "https://*.acme-help.example")

    response = Client().get("/chat/acme/?embedded=1")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == (
        f"frame-ancestors 'self' {SHOP} https://*.acme-help.example"
    )
    # X-Frame-Options cannot name sites: it would forbid them what the policy allows.
    assert "X-Frame-Options" not in response


def test_emptying_the_list_makes_the_chat_unframeable_again(workspace):
    allow(workspace, SHOP)
    allow(workspace)

    response = Client().get("/chat/acme/")

    assert response["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_another_workspaces_sites_do_not_frame_this_chat(workspace, other_workspace):
    allow(other_workspace, "https://globex.example")

    assert Client().get("/chat/acme/")["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert "https://globex.example" in Client().get("/chat/globex/")["Content-Security-Policy"]


def test_a_stored_value_that_is_not_an_origin_never_reaches_the_header(workspace):
    ChatWidgetSettings.objects.create(
        workspace=workspace, allowed_origins=[SHOP, "https://a.example; script-src *", 7]
    )

    response = Client().get("/chat/acme/")

    assert response["Content-Security-Policy"] == f"frame-ancestors 'self' {SHOP}"


def test_console_pages_stay_unframeable(admin, workspace):
    allow(workspace, SHOP)

    assert client_for(admin).get("/w/acme/chat-widget/")["X-Frame-Options"] == "DENY"
    assert Client().get("/login/")["X-Frame-Options"] == "DENY"


def test_an_unknown_workspace_has_no_chat_to_frame(workspace):
    response = Client().get("/chat/nobody-here/?embedded=1")

    assert response.status_code == 404
    assert "frame-ancestors" not in response.get("Content-Security-Policy", "")


def test_the_embedded_chat_lets_the_widget_close_it_and_leaves_the_title_to_the_widget(workspace):
    embedded = Client().get("/chat/acme/?embedded=1").content.decode()
    hosted = Client().get("/chat/acme/").content.decode()

    assert 'src="/static/conversations/embedded.js"' in embedded
    assert '<h1 class="chat__title visually-hidden">Acme support</h1>' in embedded
    assert "embedded.js" not in hosted
    assert '<h1 class="chat__title">Acme support</h1>' in hosted


# --- The console page -------------------------------------------------------------------------


def test_admin_sees_the_chat_address_the_snippet_and_the_sites_to_edit(admin, workspace):
    allow(workspace, SHOP)

    response = client_for(admin).get("/w/acme/chat-widget/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<a href="/w/acme/chat-widget/" aria-current="page">Chat widget' in html
    assert 'href="http://testserver/chat/acme/"' in html
    assert (
        '<code class="secret" id="widget-snippet">&lt;script '
        "src=&quot;http://testserver/static/conversations/widget.js&quot; "
        "data-workspace=&quot;acme&quot; data-title=&quot;Acme support&quot; async&gt;"
        "&lt;/script&gt;</code>"
    ) in html
    assert f"\n{SHOP}</textarea>" in html
    assert "Save sites" in html


def test_the_snippet_escapes_the_workspace_name_for_the_companys_html(admin):
    odd = workspace_create(name='R&D "Labs"', slug="rnd")
    membership_set(workspace=odd, user=admin, role=Role.ADMIN)

    html = client_for(admin).get("/w/rnd/chat-widget/").content.decode()

    # Shown as text: the tag to paste carries data-title="R&amp;D &quot;Labs&quot; support".
    assert "data-title=&quot;R&amp;amp;D &amp;quot;Labs&amp;quot; support&quot;" in html


@pytest.mark.parametrize("person", ["agent", "viewer"])
def test_agents_and_viewers_see_the_sites_but_cannot_change_them(request, person, workspace):
    allow(workspace, SHOP)
    user = request.getfixturevalue(person)

    html = client_for(user).get("/w/acme/chat-widget/").content.decode()
    refused = client_for(user).post(
        "/w/acme/chat-widget/origins/", {"allowed_origins": "https://evil.example"}
    )

    assert f"<li><code>{SHOP}</code></li>" in html
    assert "Only admins of Acme can change these sites." in html
    assert "<textarea" not in html
    assert 'id="widget-snippet"' in html
    assert refused.status_code == 403
    assert stored_origins(workspace) == [SHOP]


def test_the_page_says_when_no_site_may_show_the_widget(viewer, workspace):
    html = client_for(viewer).get("/w/acme/chat-widget/").content.decode()

    assert "No site may show the widget yet." in html


def test_outsiders_get_404_and_strangers_the_login_page(outsider, workspace):
    assert client_for(outsider).get("/w/acme/chat-widget/").status_code == 404
    assert client_for(outsider).post("/w/acme/chat-widget/origins/").status_code == 404
    response = Client().get("/w/acme/chat-widget/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_admin_saves_sites_and_sees_them_tidied(admin, workspace):
    console = client_for(admin)

    response = console.post(
        "/w/acme/chat-widget/origins/",
        {"allowed_origins": "HTTPS://Shop.Acme.example/\r\n\r\nhttp://localhost:3000\r\n"},
        follow=True,
    )

    html = response.content.decode()
    assert response.redirect_chain == [("/w/acme/chat-widget/", 302)]
    assert "Saved. 2 sites may show the widget." in html
    assert f"\n{SHOP}\nhttp://localhost:3000</textarea>" in html
    assert "Last changed" in html and "by Alice Admin" in html
    assert stored_origins(workspace) == [SHOP, "http://localhost:3000"]
    assert Client().get("/chat/acme/")["Content-Security-Policy"] == (
        f"frame-ancestors 'self' {SHOP} http://localhost:3000"
    )


def test_a_bad_line_is_named_and_what_the_admin_typed_is_kept(admin, workspace):
    allow(workspace, SHOP)
    typed = f"{SHOP}\r\n\r\nftp://files.acme.example\r\nhttps://*.com"

    response = client_for(admin).post("/w/acme/chat-widget/origins/", {"allowed_origins": typed})

    html = response.content.decode()
    assert response.status_code == 400
    assert (
        "Line 3 (“ftp://files.acme.example”): only http:// and https:// sites can embed the chat."
        in html
    )
    assert "Line 4 (“https://*.com”): a wildcard needs a domain of two parts or more" in html
    assert 'aria-invalid="true"' in html
    assert f"\n{typed}</textarea>" in html
    assert stored_origins(workspace) == [SHOP]


def test_admin_empties_the_list(admin, workspace):
    allow(workspace, SHOP)

    response = client_for(admin).post(
        "/w/acme/chat-widget/origins/", {"allowed_origins": ""}, follow=True
    )

    assert "Saved. No other site may show the chat." in response.content.decode()
    assert stored_origins(workspace) == []


def test_an_enormous_paste_is_refused_without_being_stored(admin, workspace):
    response = client_for(admin).post(
        "/w/acme/chat-widget/origins/", {"allowed_origins": "https://a.example\n" * 1000}
    )

    assert response.status_code == 400
    assert "This list is too long: at most 20 origins, one per line." in response.content.decode()
    assert stored_origins(workspace) == []


# --- REST -------------------------------------------------------------------------------------

API = "/api/v1/workspace/chat-widget/"


def test_api_key_reads_and_replaces_the_sites(workspace):
    api = key_client(workspace)
    assert api.get(API).json() == {"allowed_origins": [], "updated_at": None}

    response = api.put(
        API, {"allowed_origins": ["https://Shop.Acme.example/", SHOP, ""]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["allowed_origins"] == [SHOP]
    assert response.json()["updated_at"]
    assert api.get(API).json()["allowed_origins"] == [SHOP]
    assert SHOP in Client().get("/chat/acme/")["Content-Security-Policy"]


def test_api_names_the_bad_entry_and_changes_nothing(workspace):
    allow(workspace, SHOP)

    response = key_client(workspace).put(
        API, {"allowed_origins": [SHOP, "https://shop.example/path"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "allowed_origins": [
            "Entry 2 (“https://shop.example/path”): leave out the path (/path): "
            "only scheme://host[:port]."
        ]
    }
    assert stored_origins(workspace) == [SHOP]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"allowed_origins": SHOP},
        {"allowed_origins": [{"origin": SHOP}]},
        {"allowed_origins": [None]},
        {"allowed_origins": [f"https://s{number}.example" for number in range(101)]},
    ],
)
def test_api_refuses_a_body_that_is_not_a_list_of_origins(workspace, body):
    response = key_client(workspace).put(API, body, format="json")

    assert response.status_code == 400
    assert "allowed_origins" in response.json()
    assert stored_origins(workspace) == []


def test_api_refuses_a_body_that_is_not_json(workspace):
    response = key_client(workspace).put(API, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_console_users_read_but_only_admins_change(workspace, admin, agent, viewer):
    assert session_client(viewer).get(API).status_code == 200

    refused = session_client(agent).put(API, {"allowed_origins": [SHOP]}, format="json")
    changed = session_client(admin).put(API, {"allowed_origins": [SHOP]}, format="json")

    assert refused.status_code == 403
    assert refused.json() == {"detail": "Only admins of this workspace can change it."}
    assert changed.status_code == 200
    assert ChatWidgetSettings.objects.get(workspace=workspace).updated_by == admin


def test_api_acts_on_its_own_workspace_only(workspace, other_workspace, outsider):
    allow(workspace, SHOP)

    assert key_client(other_workspace).get(API).json()["allowed_origins"] == []
    assert session_client(outsider, "acme").get(API).status_code == 404
    assert APIClient().get(API).status_code == 401


def test_the_schema_documents_the_chat_widget_endpoint(db):
    schema = (
        APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )

    operations = schema["paths"]["/api/v1/workspace/chat-widget/"]
    assert operations["get"]["operationId"] == "workspace_chat_widget_retrieve"
    assert operations["put"]["operationId"] == "workspace_chat_widget_update"
    chat_widget_input = schema["components"]["schemas"]["ChatWidgetInput"]
    assert chat_widget_input["required"] == ["allowed_origins"]
    assert chat_widget_input["properties"]["allowed_origins"]["maxItems"] == 100
