"""Sources, the articles read from them, and the chunks retrieval searches.

Chunks live in this app's tables (pgvector through the ORM), not in a separate document store:
an article and its chunks are replaced in one transaction, workspaces are filtered by the ORM and
migrations own the indexes.
"""

from __future__ import annotations

from typing import ClassVar

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from pgvector.django import HnswIndex, VectorField

from console.models import Workspace

EMBEDDING_DIMENSIONS = 384  # all-MiniLM-L6-v2; another embedder must produce the same size


class SourceKind(models.TextChoices):
    UPLOAD = "upload", "Uploaded files (Markdown, HTML, PDF, text, zip)"
    FOLDER = "folder", "Folder on the server"
    ZENDESK = "zendesk", "Zendesk Help Center export"
    OPENAPI = "openapi", "OpenAPI 3 spec"
    TICKETS = "tickets", "Past resolved tickets"
    WEBSITE = "website", "Website"


class SourceStatus(models.TextChoices):
    NEW = "new", "Not synced yet"
    QUEUED = "queued", "Queued"
    SYNCING = "syncing", "Syncing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Source(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="sources")
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    name = models.CharField(max_length=120)
    # Kind-specific: the stored upload's path, a folder path, a start URL and page limit, ...
    settings = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=SourceStatus.choices, default=SourceStatus.NEW)
    processed = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # What could not be read in the last sync: [{"external_id": ..., "reason": ...}]
    file_errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=("workspace", "name"), name="source_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def progress_percent(self) -> int:
        return round(100 * self.processed / self.total) if self.total else 0


class Article(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="articles")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="articles")
    external_id = models.CharField(max_length=500)
    title = models.CharField(max_length=500)
    url = models.URLField(max_length=2000, blank=True)
    locale = models.CharField(max_length=10, default="en")
    content = models.TextField()
    content_hash = models.CharField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("title",)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=("source", "external_id"), name="article_once_per_source"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=("workspace", "locale"))]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    """A passage of an article, with its heading path, embedding and full-text vector."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    heading_path = models.CharField(max_length=1000, blank=True)  # "Billing > Invoices"
    text = models.TextField()
    locale = models.CharField(max_length=10, default="en")
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS)
    # Built with the article locale's text-search configuration (see knowledge.text_search).
    search_vector = SearchVectorField(null=True)

    class Meta:
        ordering = ("article_id", "position")
        indexes: ClassVar[list[models.Index]] = [
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(name="chunk_search_vector_gin", fields=["search_vector"]),
            models.Index(fields=("workspace", "locale"), name="chunk_workspace_locale"),
        ]

    def __str__(self) -> str:
        return f"{self.article_id}#{self.position}"


class ChunkTerm(models.Model):
    """A posting of the keyword index: one lexeme of one chunk, with its BM25 term weight.

    Postgres ranks full-text matches without inverse document frequency, which buries the one
    rare word that names the answer under common ones. The postings (from the chunk's search
    vector, so stemmed with the article language's configuration) let retrieval score BM25 in
    SQL. Rows go with their chunk by a database-level ON DELETE CASCADE (see the migration):
    Django never loads them.
    """

    pk = models.CompositePrimaryKey("chunk_id", "lexeme")
    chunk = models.ForeignKey(
        Chunk, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    workspace_id = models.BigIntegerField()
    lexeme = models.TextField()
    weight = models.FloatField()

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(
                fields=["workspace_id", "lexeme", "-weight"],
                include=["chunk"],
                name="chunkterm_postings",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lexeme} in chunk {self.chunk_id}"


class TermStatistic(models.Model):
    """How many chunks of a workspace hold each lexeme (document frequency), for BM25's IDF.

    Refreshed after each sync; the row with an empty lexeme holds the number of chunks.
    """

    pk = models.CompositePrimaryKey("workspace_id", "lexeme")
    workspace_id = models.BigIntegerField()
    lexeme = models.TextField()
    chunks = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.lexeme!r}: {self.chunks} chunks"
