"""The hosted chat page: public, per workspace."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_anyone_can_open_a_workspaces_chat_page(workspace):
    response = Client().get("/chat/acme/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Acme support" in page
    assert '<label for="chat-input">Your message</label>' in page
    assert 'role="log"' in page and 'aria-label="Conversation"' in page
    assert 'data-socket-path="/ws/chat/acme/"' in page


def test_an_unknown_workspace_has_no_chat_page(workspace):
    assert Client().get("/chat/nobody-here/").status_code == 404
