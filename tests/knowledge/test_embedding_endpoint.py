"""The embedder can be an OpenAI-compatible endpoint, set by EMBEDDING_API_BASE_URL.

The endpoint is a small local HTTP server that speaks the embeddings protocol and embeds text
as a hashed bag of words, so that the same words give close vectors.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from knowledge import embedders, pipelines
from knowledge.models import Chunk
from knowledge.selectors import knowledge_search

pytestmark = pytest.mark.django_db

DIMENSIONS = 384


def bag_of_words(text: str) -> list[float]:
    vector = [0.0] * DIMENSIONS
    for word in text.lower().split():
        vector[int(hashlib.sha256(word.strip(".,?!").encode()).hexdigest(), 16) % DIMENSIONS] += 1
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class EmbeddingsEndpoint(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        EmbeddingsEndpoint.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), **body}
        )
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        payload = {
            "object": "list",
            "model": body["model"],
            "data": [
                {"object": "embedding", "index": i, "embedding": bag_of_words(text)}
                for i, text in enumerate(inputs)
            ],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def clear_cached_pipelines() -> None:
    embedders.clear_cached_embedders()
    pipelines.indexing_pipeline.cache_clear()
    pipelines.retrieval_pipeline.cache_clear()


@pytest.fixture
def endpoint(settings, monkeypatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EmbeddingsEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    EmbeddingsEndpoint.requests = []
    settings.EMBEDDING_API_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}/v1"
    settings.EMBEDDING_MODEL = "house-embedder"
    monkeypatch.setenv("EMBEDDING_API_KEY", "sk-test-key")
    clear_cached_pipelines()
    try:
        yield settings.EMBEDDING_API_BASE_URL
    finally:
        clear_cached_pipelines()  # later tests get the default embedder back
        server.shutdown()
        server.server_close()


def test_changing_the_embedder_re_embeds_on_the_next_sync(workspace, help_center, settings):
    from knowledge.models import SourceKind
    from knowledge.services import source_create, source_sync

    source = source_sync(
        source=source_create(
            workspace=workspace,
            kind=SourceKind.FOLDER,
            name="Help",
            settings_={"path": str(help_center)},
        )
    )
    before = dict(source.articles.values_list("external_id", "version"))

    server = ThreadingHTTPServer(("127.0.0.1", 0), EmbeddingsEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.EMBEDDING_API_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}/v1"
    clear_cached_pipelines()
    try:
        source = source_sync(source=source)
    finally:
        clear_cached_pipelines()
        server.shutdown()
        server.server_close()

    after = dict(source.articles.values_list("external_id", "version"))
    assert after == {external_id: version + 1 for external_id, version in before.items()}


def test_sync_and_search_use_the_configured_endpoint(endpoint, synced_source, workspace):
    result = knowledge_search(workspace_id=workspace.pk, query="reset link valid minutes", k=1)

    assert Chunk.objects.filter(article__source=synced_source).count() >= 3
    paths = {request["path"] for request in EmbeddingsEndpoint.requests}
    assert paths == {"/v1/embeddings"}
    assert {request["model"] for request in EmbeddingsEndpoint.requests} == {"house-embedder"}
    assert {request["auth"] for request in EmbeddingsEndpoint.requests} == {"Bearer sk-test-key"}
    assert result.hits[0].external_id == "en/reset-password.md"
    assert result.hits[0].found_by["embedding"]["rank"] == 1
