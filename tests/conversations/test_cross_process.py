"""Delivery across two ASGI processes through the real Redis channel layer, as a scaled-out
install runs (several daphne processes behind a load balancer, REDIS_URL set).

Two daphne processes, A and B, are forked from this test process against the test database,
both with the Redis channel layer on 127.0.0.1:6379 under a prefix of this run's own (parallel
runs and other tests never share a group). The clients are real: websockets for the sockets,
httpx for the REST API, speaking to the servers over TCP like a browser and a backend would.

The AI's reply runs eagerly inside the server that took the customer's message (what the chat
socket does without workers), rather than on a Celery worker started for the test: a worker
would add its own start-up and a broker queue to wait on, and so more ways to be slow or flaky
under load, while proving nothing more about the channel layer, which is what is under test.
Whichever process runs the reply, its events reach the others only through Redis. The query
embedder is a local OpenAI-compatible endpoint (EMBEDDING_API_BASE_URL, as in
tests/knowledge/test_embedding_endpoint.py): each server would otherwise load the embedding model,
seconds of CPU spent on nothing under test.

Exactly once: each check collects frames up to a last, later event (a status change, or a
last reply) and asserts what came before it. The channel layer keeps one socket's events in
order, so a duplicate of an earlier event would arrive before that last one.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels_redis.core import RedisChannelLayer
from daphne.testing import DaphneProcess
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils.crypto import get_random_string
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from config.celery import app as celery_app
from config.channel_layer import redis_channel_layer_config
from console.models import User
from tests.e2e.conftest import _forked_server_application
from tests.knowledge.test_embedding_endpoint import EmbeddingsEndpoint, clear_cached_pipelines

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = "redis://127.0.0.1:6379/0"
# One prefix per test run: the servers of a parallel run use groups of their own.
CHANNEL_PREFIX = f"test-crossproc-{uuid.uuid4().hex}:"
# Generous for a loaded CI machine; each wait ends as soon as its frame arrives.
FRAME_TIMEOUT = 30
HUMAN_PLEASE = "My export keeps failing. I want to talk to a human"


def _redis_server_application(*, embeddings_url: str) -> Any:
    """Runs in each forked server: the Redis channel layer, the AI's reply in-process, the
    query embedder on the local endpoint."""
    settings.CHANNEL_LAYERS = {
        "default": redis_channel_layer_config(REDIS_URL, prefix=CHANNEL_PREFIX)
    }
    channel_layers.backends.clear()  # the parent's layer (in memory) must not be reused
    settings.CELERY_TASK_ALWAYS_EAGER = True
    celery_app.conf.task_always_eager = True
    settings.EMBEDDING_API_BASE_URL = embeddings_url
    os.environ["EMBEDDING_API_KEY"] = "sk-test-key"
    clear_cached_pipelines()
    return _forked_server_application()


@pytest.fixture(scope="module")
def embeddings_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EmbeddingsEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker, embeddings_url) -> Iterator[tuple[str, str]]:
    """The host:port of two daphne processes, A and B, sharing the Redis channel layer."""
    get_application = partial(_redis_server_application, embeddings_url=embeddings_url)
    started: list[DaphneProcess] = []
    try:
        # Forked while database access is unblocked, so the servers keep it; the parent does not.
        with django_db_blocker.unblock():
            connections.close_all()  # a forked child must not share the parent's socket
            for _ in range(2):
                process = DaphneProcess(host="127.0.0.1", get_application=get_application)
                process.start()
                started.append(process)
                if not process.ready.wait(timeout=30):
                    raise RuntimeError("daphne did not start")
        server_a, server_b = started
        yield f"127.0.0.1:{server_a.port.value}", f"127.0.0.1:{server_b.port.value}"
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.join(timeout=10)
        # The groups' keys would otherwise stay in Redis for a day (channels_redis' expiry).
        layer = RedisChannelLayer(hosts=[REDIS_URL], prefix=CHANNEL_PREFIX)
        async_to_sync(layer.flush)()


# --- clients ---------------------------------------------------------------------------------


def socket_open(server: str, path: str, *, cookie: str = "") -> ClientConnection:
    """A websocket to `server`, sent from a page of that server (the origin check passes)."""
    return connect(
        f"ws://{server}{path}",
        origin=Origin(f"http://{server}"),
        additional_headers={"Cookie": cookie} if cookie else None,
        open_timeout=FRAME_TIMEOUT,
    )


def frame_next(socket: ClientConnection) -> dict[str, Any]:
    frame = json.loads(socket.recv(timeout=FRAME_TIMEOUT))
    assert isinstance(frame, dict)
    return frame


def frames_until(
    socket: ClientConnection, last: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """The frames up to and including the first for which `last` is true."""
    frames = [frame_next(socket)]
    while not last(frames[-1]):
        frames.append(frame_next(socket))
    return frames


@contextmanager
def customer_chat(
    server: str, token: str = ""
) -> Iterator[tuple[ClientConnection, dict[str, Any]]]:
    """A customer's chat socket and its welcome frame: a new conversation, or `token`'s."""
    with socket_open(
        server, f"/ws/chat/acme/?token={token}" if token else "/ws/chat/acme/"
    ) as socket:
        welcome = frame_next(socket)
        assert welcome["type"] == "welcome"
        yield socket, welcome


class SignedInAgent:
    """An agent's browser session: the session cookie (stored in the shared database, so every
    server knows it) and a CSRF token, as the console page would send them."""

    def __init__(self, user: User) -> None:
        client = Client()
        client.force_login(user)
        self.csrf_token = get_random_string(32)
        self.cookie = f"sessionid={client.cookies['sessionid'].value}; csrftoken={self.csrf_token}"

    def post(self, server: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            f"http://{server}/api/v1/{path}",
            json=body or {},
            headers={
                "Cookie": self.cookie,
                "X-CSRFToken": self.csrf_token,
                "X-Workspace": "acme",
            },
            timeout=FRAME_TIMEOUT,
        )
        assert response.is_success, response.text
        return response.json()


def is_status(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame == {"type": "status", "status": status}


def is_message_from(sender: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame["type"] == "message" and frame["message"]["sender"] == sender


def messages_of(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [frame["message"] for frame in frames if frame["type"] == "message"]


# --- tests -----------------------------------------------------------------------------------


def test_a_customer_on_one_process_gets_the_agents_replies_sent_through_another(
    servers, workspace, agent
):
    server_a, server_b = servers
    agent_browser = SignedInAgent(agent)
    replies = ["Hi, I'm Andy.", "Let me check your export.", "Found it: try again now."]
    with customer_chat(server_a) as (customer, welcome):
        conversation = welcome["conversation_id"]
        for text in replies:
            agent_browser.post(server_b, f"conversations/{conversation}/reply/", {"text": text})
        agent_browser.post(server_b, f"conversations/{conversation}/resolve/")

        frames = frames_until(customer, is_status("resolved"))

    messages = messages_of(frames)
    from_agent = [message for message in messages if message["sender"] == "agent"]
    assert [message["text"] for message in from_agent] == replies  # each once, in order
    assert {message["author_name"] for message in from_agent} == {"Andy Agent"}
    ids = [message["id"] for message in messages]
    assert ids == sorted(set(ids))  # no message twice, none out of order
    assert {"type": "status", "status": "assigned"} in frames  # the first reply claimed it


def test_an_agent_on_one_process_hears_a_handoff_made_on_another(servers, workspace, agent):
    server_a, server_b = servers
    agent_browser = SignedInAgent(agent)
    with (
        socket_open(server_b, "/ws/w/acme/events/", cookie=agent_browser.cookie) as inbox,
        customer_chat(server_a) as (customer, welcome),
    ):
        customer.send(json.dumps({"type": "message", "client_id": "c-1", "text": HUMAN_PLEASE}))
        # The customer is told as the handoff is stored, at the end of the AI's turn.
        frames_until(customer, is_status("waiting"))

        event = frames_until(inbox, lambda frame: frame.get("change") == "handoff")[-1]

    assert event["type"] == "inbox.conversation"
    assert event["conversation"]["id"] == welcome["conversation_id"]
    assert event["conversation"]["status"] == "waiting"
    assert event["handoff"]["brief"]["wants"].startswith("My export keeps failing.")


def test_two_sockets_of_one_conversation_on_two_processes_get_each_message_once(
    servers, workspace, agent
):
    server_a, server_b = servers
    agent_browser = SignedInAgent(agent)
    with customer_chat(server_a) as (tab_a, welcome):
        conversation = welcome["conversation_id"]
        reply_url = f"conversations/{conversation}/reply/"
        # The same customer in a second tab, served by the other process.
        with customer_chat(server_b, token=welcome["token"]) as (tab_b, welcome_b):
            assert welcome_b["conversation_id"] == conversation
            # An agent takes the conversation first, so the AI stays silent; then each step
            # starts once the one before has been seen: the order is the test's, not a race's.
            agent_browser.post(server_b, reply_url, {"text": "Hi there"})
            for tab in (tab_a, tab_b):
                frames_until(tab, is_message_from("agent"))

            tab_a.send(json.dumps({"type": "message", "client_id": "c-1", "text": "Hello from A"}))
            frames_a = frames_until(tab_a, is_message_from("customer"))
            agent_browser.post(server_b, reply_url, {"text": "How can I help?"})
            frames_a += frames_until(tab_a, is_message_from("agent"))
            frames_b = frames_until(tab_b, is_message_from("agent"))

    ack = next(frame for frame in frames_a if frame["type"] == "ack")
    for frames in (frames_a, frames_b):
        messages = messages_of(frames)
        assert [(m["sender"], m["text"]) for m in messages] == [
            ("customer", "Hello from A"),
            ("agent", "How can I help?"),
        ]
        assert messages[0]["id"] == ack["message_id"]
    assert messages_of(frames_a) == messages_of(frames_b)  # both tabs show the same transcript
