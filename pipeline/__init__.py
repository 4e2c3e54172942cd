"""Sourced statistics on online platforms in child sexual abuse crimes.

Importing the package does nothing but define the version; stages live in their
own modules (documents, mentions, facts, database, release) and Dagster wiring
in ``pipeline.defs``.
"""

__version__ = "0.1.0"
