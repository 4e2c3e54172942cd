"""Each table of the curated database and the release: columns, key, description."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.metadata.fields import Field, field


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]

    @property
    def fields(self) -> list[Field]:
        return [field(self.name, c) for c in self.columns]


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "facts",
            "One statistical figure about online child sexual abuse, with the exact quote and span it was read from.",
            (
                "fact_id", "document", "source", "year", "region", "platform", "offence", "count", "share",
                "qualifier", "measure", "base", "period_start", "period_end", "quote", "char_start", "char_end",
                "page", "confidence", "extractor_version",
                "region_from", "year_from", "offence_from", "source_from", "platform_from",
                "corrected", "correction",
            ),
            ("fact_id",),
        ),
        Table(
            "statistics",
            "Curated: one row per real-world figure. Facts of different documents with the same key and the same "
            "value (or one a stated rounding of the other) are merged; each is a row of citations.",
            (
                "statistic_id", "source", "year", "period_start", "period_end", "region", "platform", "offence",
                "measure", "count", "share", "qualifier", "base", "n_citations", "n_documents", "first_published",
                "corrected", "correction", "conflict", "flags", "primary_fact_id", "quote",
            ),
            ("statistic_id",),
        ),
        Table(
            "citations",
            "Curated: one row per (statistic, fact): each document stating a figure, with its own value, quote and span.",
            (
                "statistic_id", "fact_id", "document", "sha256", "quote", "char_start", "char_end", "count", "share",
                "qualifier", "base", "title", "outlet", "url", "published", "corrected",
            ),
            ("statistic_id", "fact_id"),
        ),
        Table(
            "conflicts",
            "Curated: facts of one key whose values disagree beyond rounding, one row per fact; nothing is overwritten.",
            (
                "conflict_id", "statistic_id", "fact_id", "document", "source", "year", "region", "platform", "offence",
                "measure", "count", "share", "qualifier", "quote", "n_values",
            ),
            ("conflict_id", "fact_id"),
        ),
        Table(
            "review",
            "The facts most worth a human look, ranked, each with a ready-to-paste corrections.csv line.",
            (
                "rank", "fact_id", "statistic_id", "document", "sha256", "score", "reasons", "quote", "source", "year",
                "region", "platform", "offence", "measure", "count", "share", "qualifier", "confidence",
                "correction_line",
            ),
            ("fact_id",),
        ),
        Table(
            "corrections",
            "The rows of the corrections file applied in this run, with the fact each applied to.",
            ("line", "sha256", "quote", "action", "field", "value", "reason", "reviewer", "fact_id", "document"),
            ("line",),
        ),
        Table(
            "documents",
            "Every ingested input document, with the text that fact spans index.",
            (
                "document", "sha256", "bytes", "media_type", "encoding", "pages", "published", "url", "outlet", "title",
                "licence", "text",
            ),
            ("document",),
        ),
        Table(
            "rejected_documents",
            "Every input that was not ingested, with the reason: nothing is dropped silently.",
            ("document", "reason", "sha256", "bytes", "duplicate_of"),
            ("document",),
        ),
        Table(
            "mentions",
            "Audit trail: every number seen in a document, kept as (part of) a fact or dropped, with the reason.",
            ("document", "char_start", "char_end", "surface", "value", "kind", "decision", "reason", "fact_id", "sentence"),
            ("document", "char_start", "char_end"),
        ),
        Table(
            "platforms",
            "Platforms and platform categories (vendored taxonomy).",
            ("slug", "name", "owner", "owner_group", "kind", "aliases"),
            ("slug",),
        ),
        Table(
            "regions",
            "Geographies: countries, nations, police force areas (vendored taxonomy).",
            ("slug", "name", "gss_code", "iso_code", "kind", "parent"),
            ("slug",),
        ),
        Table(
            "offences",
            "Offence categories with Home Office codes where they exist (vendored taxonomy).",
            ("slug", "name", "home_office_code", "jurisdiction", "notes"),
            ("slug",),
        ),
        Table(
            "sources",
            "Bodies that compile figures (vendored taxonomy).",
            ("slug", "name", "kind", "url", "notes"),
            ("slug",),
        ),
    ]
}

TAXONOMY_TABLES = ("platforms", "regions", "offences", "sources")
CURATED_TABLES = ("statistics", "citations", "conflicts", "review", "corrections")
