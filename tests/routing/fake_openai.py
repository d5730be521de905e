"""A local stand-in for an OpenAI-compatible chat endpoint (OpenAI, Ollama, llama.cpp, vLLM).

It speaks the wire protocol of `POST /v1/chat/completions`, plain and streamed (server-sent
events), so the code under test runs its real HTTP client against it. Each test scripts the reply
(a text, or a function of the request body) or a failure, and reads back what was sent.

A reply to a request that offers tools may also carry tool calls (`tool_calls`: a list, or a
function of the request body, of {"name": ..., "arguments": {...}}; a string as arguments is sent
as it is, e.g. broken JSON). Like a real model, the fake calls nothing when no tools are offered
(the brief writer's requests, a workspace without actions).
Streamed, they arrive as OpenAI sends them: `tool_calls` deltas with the call's index, id and
name first, then its arguments in pieces.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# "no_tools": a model without tool support, refusing (HTTP 400, as Ollama does) a request that
# offers tools.
FAILURES = ("", "http_500", "garbage", "empty", "slow", "no_tools")
ToolCalls = list[dict[str, Any]]
CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")


def unreachable_base_url() -> str:
    """The base URL of an endpoint that is down: a local port where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class FakeOpenAI:
    """The scripted endpoint. Set `reply` and `failure` before the call under test."""

    def __init__(self) -> None:
        self.reply: str | Callable[[dict[str, Any]], str] = "Hello from the fake model."
        self.tool_calls: ToolCalls | Callable[[dict[str, Any]], ToolCalls] = []
        self.failure = ""
        # How long "slow" makes the client wait; longer than any timeout the tests use.
        self.slow_seconds = 10.0
        # Streamed replies are cut into pieces this long, so a citation marker can straddle two.
        self.chunk_chars = 8
        self.requests: list[dict[str, Any]] = []  # every request body, parsed
        self.headers: list[dict[str, str]] = []  # their headers, lower-cased names
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval: stopping the server waits for the next poll, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def last_messages(self) -> list[dict[str, Any]]:
        """The chat messages of the last request."""
        return list(self.requests[-1]["messages"])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # releases a "slow" handler still waiting
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def reply_for(self, body: dict[str, Any]) -> str:
        return self.reply(body) if callable(self.reply) else self.reply

    def tool_calls_for(self, body: dict[str, Any]) -> ToolCalls:
        return self.tool_calls(body) if callable(self.tool_calls) else self.tool_calls

    @property
    def last_tools(self) -> list[dict[str, Any]]:
        """The tools offered in the last request, as sent ([] when none were)."""
        return list(self.requests[-1].get("tools") or [])

    def wait_slowly(self) -> None:
        self._stopping.wait(self.slow_seconds)


def _handler_for(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.rstrip("/") not in CHAT_PATHS:
                self._send(404, "application/json", b'{"error": {"message": "not found"}}')
                return
            body = json.loads(raw or b"{}")
            fake.requests.append(body)
            fake.headers.append({name.lower(): value for name, value in self.headers.items()})
            # The client may have given up (its timeout): then there is no one left to answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(body)

        def _answer(self, body: dict[str, Any]) -> None:
            failure = fake.failure
            if failure == "slow":
                fake.wait_slowly()
            if failure == "http_500":
                error = {"error": {"message": "The model crashed", "type": "server_error"}}
                self._send(500, "application/json", json.dumps(error).encode())
                return
            if failure == "no_tools" and body.get("tools"):
                error = {"error": {"message": "fake-model does not support tools"}}
                self._send(400, "application/json", json.dumps(error).encode())
                return
            model = str(body.get("model") or "fake-model")
            calls = _wire_tool_calls(fake.tool_calls_for(body) if body.get("tools") else [])
            if body.get("stream"):
                self._stream(model, fake.reply_for(body), calls, failure)
                return
            if failure == "garbage":
                self._send(200, "application/json", b"<html>502 Bad Gateway</html>")
                return
            completion = _completion(model, fake.reply_for(body), calls, empty=failure == "empty")
            self._send(200, "application/json", json.dumps(completion).encode())

        def _stream(self, model: str, text: str, calls: list[dict[str, Any]], failure: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if failure == "garbage":
                self._event("this is not json")
                self._event("[DONE]")
                return
            pieces = [] if failure == "empty" else _pieces(text, fake.chunk_chars)
            self._event(json.dumps(_chunk(model, {"role": "assistant", "content": ""})))
            for piece in pieces:
                self._event(json.dumps(_chunk(model, {"content": piece})))
            if failure == "empty":
                calls = []
            for index, call in enumerate(calls):
                function = call["function"]
                start = {"index": index, "id": call["id"], "type": "function"}
                start["function"] = {"name": function["name"], "arguments": ""}
                self._event(json.dumps(_chunk(model, {"tool_calls": [start]})))
                for piece in _pieces(function["arguments"], fake.chunk_chars):
                    delta = {"index": index, "function": {"arguments": piece}}
                    self._event(json.dumps(_chunk(model, {"tool_calls": [delta]})))
            finish_reason = "tool_calls" if calls else "stop"
            self._event(json.dumps(_chunk(model, {}, finish_reason=finish_reason)))
            self._event("[DONE]")

        def _event(self, data: str) -> None:
            self.wfile.write(f"data: {data}\n\n".encode())
            self.wfile.flush()

        def _send(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

    return Handler


def _pieces(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def _wire_tool_calls(calls: ToolCalls) -> list[dict[str, Any]]:
    """The scripted calls as OpenAI sends them: arguments as a JSON string."""
    return [
        {
            "id": f"call_{index}",
            "type": "function",
            "function": {
                "name": call["name"],
                "arguments": (
                    call["arguments"]
                    if isinstance(call["arguments"], str)
                    else json.dumps(call["arguments"])
                ),
            },
        }
        for index, call in enumerate(calls)
    ]


def _completion(
    model: str, text: str, calls: list[dict[str, Any]], *, empty: bool
) -> dict[str, Any]:
    # A model that only calls a tool sends no content (null), as OpenAI does.
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        message["tool_calls"] = calls
    choice = {
        "index": 0,
        "message": message,
        "finish_reason": "tool_calls" if calls else "stop",
        "logprobs": None,
    }
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [] if empty else [choice],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
