"""Readers that turn what a company gives us (files, exports, specs, tickets, a website) into
article drafts. They know nothing of the database: `knowledge.services` stores the drafts and the
indexing pipeline chunks and embeds them.
"""
