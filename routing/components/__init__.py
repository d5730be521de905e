"""Haystack components of the routing pipeline, one per file."""
