"""Haystack components of the knowledge pipelines, one per file."""
