"""The knowledge pipelines, each built in one place and once per process.

Indexing:  MarkdownCleaner -> HeadingAwareSplitter -> document embedder -> ArticleChunkWriter
Retrieval: text embedder -> ChunkEmbeddingRetriever ┐
                            ChunkKeywordRetriever   ┴-> ArticleRankFusion
"""

from __future__ import annotations

import functools

from haystack import Pipeline

from knowledge.components.chunk_writer import ArticleChunkWriter
from knowledge.components.embedding_retriever import ChunkEmbeddingRetriever
from knowledge.components.heading_splitter import HeadingAwareSplitter
from knowledge.components.keyword_retriever import ChunkKeywordRetriever
from knowledge.components.markdown_cleaner import MarkdownCleaner
from knowledge.components.query_embedder import QueryEmbedder
from knowledge.components.rank_fusion import ArticleRankFusion
from knowledge.embedders import document_embedder

# How many chunks each retriever hands to the fusion: enough that an article found by only one
# of them still competes.
CANDIDATES_PER_RETRIEVER = 40


@functools.cache
def indexing_pipeline() -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("cleaner", MarkdownCleaner())
    pipeline.add_component("splitter", HeadingAwareSplitter())
    pipeline.add_component("embedder", document_embedder())
    pipeline.add_component("writer", ArticleChunkWriter())
    pipeline.connect("cleaner.documents", "splitter.documents")
    pipeline.connect("splitter.documents", "embedder.documents")
    pipeline.connect("embedder.documents", "writer.documents")
    return pipeline


@functools.cache
def retrieval_pipeline() -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("query_embedder", QueryEmbedder())
    pipeline.add_component("embedding_retriever", ChunkEmbeddingRetriever(CANDIDATES_PER_RETRIEVER))
    pipeline.add_component("keyword_retriever", ChunkKeywordRetriever(CANDIDATES_PER_RETRIEVER))
    pipeline.add_component("fusion", ArticleRankFusion())
    pipeline.connect("query_embedder.embedding", "embedding_retriever.query_embedding")
    pipeline.connect("embedding_retriever.documents", "fusion.embedding_documents")
    pipeline.connect("keyword_retriever.documents", "fusion.keyword_documents")
    return pipeline
