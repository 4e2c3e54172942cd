"""Every column of every table, described once.

The DuckDB DDL, the pyarrow schema of the Parquet release and the Frictionless
``datapackage.json`` are all rendered from these entries (see ``schema.py``), so
they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.metadata.rules import qualifiers


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # DuckDB type: VARCHAR, BIGINT, DOUBLE, DATE, BOOLEAN
    description: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] | None = None


# Where an attribute of a fact came from, strongest first; the extractor's confidence is lower for
# document, published and none (a document-wide default, the publication date, nothing found).
ORIGINS = ("clause", "sentence", "table", "context", "heading", "title", "document", "published", "none")
ORIGIN_HELP = (
    "clause (the figure's own clause), sentence (elsewhere in its sentence), table (a table's header or column), "
    "context (an earlier sentence of the paragraph, the lead-in of its list or the total it breaks down), heading, "
    "title (the document's title), document (the document-wide default), published (the publication date), "
    "none (nothing found)."
)
QUALIFIERS = tuple(q.name for q in qualifiers())  # rules/qualifiers.csv
MEASURES = ("offences", "incidents", "reports", "offenders", "images", "cases", "victims", "other")

_FIELDS = [
    # documents
    Field("document", "VARCHAR", "Path of the input file relative to the raw folder, with '/' separators.", required=True),
    Field("sha256", "VARCHAR", "SHA-256 of the file's bytes, hex.", required=True),
    Field("bytes", "BIGINT", "Size of the file in bytes.", required=True, minimum=0),
    Field("media_type", "VARCHAR", "Media type detected from the content, e.g. text/plain, text/html, application/pdf."),
    Field("encoding", "VARCHAR", "Character encoding the text was decoded from (utf-8, utf-8-sig, utf-16, cp1252, ...); null for PDF."),
    Field("pages", "BIGINT", "Number of pages for a PDF (pages are separated by form feeds in `text`); null otherwise.", minimum=0),
    Field("published", "DATE", "Publication date: from sources.csv, else document metadata, else a date stated in the text."),
    Field("url", "VARCHAR", "Where the document was obtained (sources.csv)."),
    Field("outlet", "VARCHAR", "Publisher or website that carried the document (sources.csv); not the source of a figure."),
    Field("title", "VARCHAR", "Document title (sources.csv or document metadata)."),
    Field(
        "licence", "VARCHAR",
        "Licence the publisher gives the document's text under (sources.csv `licence`, e.g. OGL-UK-3.0, CC-BY-4.0); "
        "a release carries the full text only under a licence that allows it (pipeline/metadata/licences.csv).",
    ),
    Field("text", "VARCHAR", "The text the extractor saw; every fact's char_start/char_end index this string.", required=True),
    # rejected_documents
    Field("reason", "VARCHAR", "Why the input was not ingested (empty, binary, corrupt PDF, duplicate of ..., too large, ...).", required=True),
    Field("duplicate_of", "VARCHAR", "For an exact duplicate, the document that was kept."),
    # mentions
    Field("char_start", "BIGINT", "Start offset (Python str index, code points) of the span in documents.text.", required=True, minimum=0),
    Field("char_end", "BIGINT", "End offset (exclusive) of the span in documents.text.", required=True, minimum=0),
    Field("surface", "VARCHAR", "The number as written, e.g. 'more than 9,477' or 'one in five'.", required=True),
    Field("value", "DOUBLE", "The number the surface denotes (a share as a fraction)."),
    Field("kind", "VARCHAR", "What the number states: count, share, or count_share (a count with its share: \"27 (40.2%)\").", required=True),
    Field("decision", "VARCHAR", "fact if the mention became (part of) a fact, dropped otherwise.", required=True, enum=("fact", "dropped")),
    Field("sentence", "VARCHAR", "The sentence holding the mention."),
    # facts
    Field("fact_id", "VARCHAR", "Stable id: a hash of document and span; the same document and span always give the same id.", required=True),
    Field("source", "VARCHAR", "Slug of taxonomy/sources.csv: the body that compiled the figure (not the outlet)."),
    Field("year", "BIGINT", "Calendar year in which the figure's reference period ends; else the year of publication.", minimum=1900, maximum=2100),
    Field("region", "VARCHAR", "Slug of taxonomy/regions.csv: the geography the figure covers."),
    Field("platform", "VARCHAR", "Slug of taxonomy/platforms.csv; combined platforms as sorted slugs joined with '+'.", required=True),
    Field("offence", "VARCHAR", "Slug of taxonomy/offences.csv."),
    Field("count", "BIGINT", "The count as stated, an integer.", minimum=0),
    Field("share", "DOUBLE", "The share as a fraction in [0, 1].", minimum=0, maximum=1),
    Field("qualifier", "VARCHAR", "How the source bounds the value.", required=True, enum=QUALIFIERS),
    Field("measure", "VARCHAR", "What is counted.", enum=MEASURES),
    Field("base", "BIGINT", "The denominator of a share, where stated.", minimum=0),
    Field("period_start", "DATE", "First day of the figure's reference period, where known."),
    Field("period_end", "DATE", "Last day of the figure's reference period, where known."),
    Field("quote", "VARCHAR", "The exact text of the document at [char_start:char_end].", required=True),
    Field("page", "BIGINT", "Page of a PDF document the quote is on (1-based); null for other documents.", minimum=1),
    Field("confidence", "DOUBLE", "The extractor's confidence that the row is a correct fact, 0-1.", minimum=0, maximum=1),
    Field("extractor_version", "VARCHAR", "Version of the extractor that produced the row.", required=True),
    *(
        Field(f"{attr}_from", "VARCHAR", f"Where the {attr} came from: {ORIGIN_HELP}", enum=ORIGINS)
        for attr in ("region", "year", "offence", "source", "platform")
    ),
    # facts.csv: the fact's document beside the quote, so a spreadsheet row traces back without a join
    Field("sentence_start", "BIGINT", "Offset in documents.text where `sentence` starts, so quote = "
          "sentence[char_start - sentence_start : char_end - sentence_start].", minimum=0),
    Field("document_sha256", "VARCHAR", "SHA-256 of the fact's document file (documents.sha256): whoever holds the "
          "document can check the quote in it."),
    Field("document_title", "VARCHAR", "Title of the fact's document (documents.title)."),
    Field("document_outlet", "VARCHAR", "Publisher or website that carried the fact's document (documents.outlet)."),
    Field("document_url", "VARCHAR", "Where the fact's document was obtained (documents.url)."),
    Field("document_published", "DATE", "Publication date of the fact's document (documents.published)."),
    # corrections and the curated tables (pipeline/corrections.py, pipeline/curate.py)
    Field("corrected", "BOOLEAN", "True when a row of the corrections file (data/corrections.csv) set a field of this row or added it."),
    Field("correction", "VARCHAR", "The corrections applied to this row, with their line, reason and reviewer; null when none."),
    Field("statistic_id", "VARCHAR", "Stable id of the real-world figure: a hash of its key (source, year, region, platform, offence, measure) and value.", required=True),
    Field("n_citations", "BIGINT", "Number of facts (citations) stating this figure.", required=True, minimum=1),
    Field("n_documents", "BIGINT", "Number of distinct documents stating this figure.", required=True, minimum=1),
    Field("first_published", "DATE", "Earliest publication date among the documents stating this figure."),
    Field("conflict", "BOOLEAN", "True when a fact of the same key states a value that disagrees beyond rounding (see the conflicts table).", required=True),
    Field("flags", "VARCHAR", "Consistency flags ('; ' separated): shares of one breakdown summing past 1, count/base disagreeing with the share, year after the document's date."),
    Field("primary_fact_id", "VARCHAR", "The citation whose value the statistic takes (the most precise statement, exact before qualified).", required=True),
    Field("conflict_id", "VARCHAR", "Id of the conflict: a hash of the key whose facts disagree.", required=True),
    Field("n_values", "BIGINT", "Number of distinct values (statistics) stated for the key.", required=True, minimum=2),
    Field("rank", "BIGINT", "Position in the review queue; 1 is the fact most worth a human look.", required=True, minimum=1),
    Field("score", "DOUBLE", "Review priority: the sum of the weights of the reasons.", required=True, minimum=0),
    Field("reasons", "VARCHAR", "Why the fact is worth a look ('; ' separated).", required=True),
    Field("correction_line", "VARCHAR", "A ready-to-paste line for data/corrections.csv (fill in reason and reviewer, adjust action, field and value).", required=True),
    Field("line", "BIGINT", "Line of the corrections file the correction is on (the header is line 1).", required=True, minimum=2),
    Field("action", "VARCHAR", "What the correction does: reject drops a fact, set changes one field, add adds a fact the extractor missed.", required=True, enum=("reject", "set", "add")),
    Field("reviewer", "VARCHAR", "Who made the correction."),
    # taxonomy dimensions
    Field("slug", "VARCHAR", "Identifier used in the facts table.", required=True),
    Field("name", "VARCHAR", "Human-readable name.", required=True),
    Field("home_office_code", "VARCHAR", "Home Office crime classification code(s), '|' separated, where one exists."),
    Field("jurisdiction", "VARCHAR", "Region slug of the law the offence belongs to."),
    Field("notes", "VARCHAR", "Provenance and caveats for the entry."),
    Field("owner", "VARCHAR", "Company that owns the platform."),
    Field("owner_group", "VARCHAR", "Slug of the owner, grouping platforms of one company."),
    Field("aliases", "VARCHAR", "Names the platform goes by in text, '|' separated."),
    Field("gss_code", "VARCHAR", "ONS Government Statistical Service code."),
    Field("iso_code", "VARCHAR", "ISO 3166 code."),
    Field("parent", "VARCHAR", "Slug of the region that contains this one."),
]

FIELDS: dict[str, Field] = {f.name: f for f in _FIELDS}

# A few names mean different things in different tables; tables.py may override.
OVERRIDES: dict[tuple[str, str], Field] = {
    ("platforms", "kind"): Field("kind", "VARCHAR", "Kind of platform: social_network, messaging, video, gaming, category, ..."),
    ("regions", "kind"): Field("kind", "VARCHAR", "Kind of geography: country, nation, police_force_area, region, ..."),
    ("sources", "kind"): Field("kind", "VARCHAR", "Kind of body: charity, hotline, law_enforcement, regulator, ..."),
    ("sources", "url"): Field("url", "VARCHAR", "Home page of the body."),
    ("mentions", "reason"): Field("reason", "VARCHAR", "Why the mention was kept or dropped, e.g. 'money', 'age', 'relative change'.", required=True),
    ("facts", "document"): Field("document", "VARCHAR", "The document (path relative to the raw folder) the fact was read from.", required=True),
    ("mentions", "document"): Field("document", "VARCHAR", "The document (path relative to the raw folder) the number was read from.", required=True),
    ("mentions", "fact_id"): Field("fact_id", "VARCHAR", "The fact this mention is part of, if any."),
    ("facts", "sentence"): Field("sentence", "VARCHAR", "The full sentence the quote is in, as it stands in the text "
                                 "(the quote alone where no sentence was recorded)."),
    ("statistics", "count"): Field("count", "BIGINT", "The count of the figure, from its most precise citation.", minimum=0),
    ("statistics", "share"): Field("share", "DOUBLE", "The share of the figure as a fraction in [0, 1], from its most precise citation.", minimum=0, maximum=1),
    ("statistics", "quote"): Field("quote", "VARCHAR", "The quote of the primary citation.", required=True),
    ("statistics", "qualifier"): Field("qualifier", "VARCHAR", "How the primary citation bounds the value.", required=True, enum=QUALIFIERS),
    ("citations", "count"): Field("count", "BIGINT", "The count as this document states it.", minimum=0),
    ("citations", "share"): Field("share", "DOUBLE", "The share as this document states it.", minimum=0, maximum=1),
    ("citations", "qualifier"): Field("qualifier", "VARCHAR", "How this document bounds the value.", required=True, enum=QUALIFIERS),
    ("citations", "document"): Field("document", "VARCHAR", "The citing document (path relative to the raw folder).", required=True),
    ("citations", "published"): Field("published", "DATE", "Publication date of the citing document."),
    ("citations", "sha256"): Field("sha256", "VARCHAR", "SHA-256 of the citing document's bytes: the key corrections use.", required=True),
    ("conflicts", "statistic_id"): Field("statistic_id", "VARCHAR", "The statistic (one of the disagreeing values) this fact is a citation of.", required=True),
    ("conflicts", "document"): Field("document", "VARCHAR", "The document stating this value.", required=True),
    ("review", "document"): Field("document", "VARCHAR", "The document the fact was read from.", required=True),
    ("review", "sha256"): Field("sha256", "VARCHAR", "SHA-256 of the document's bytes, as corrections.csv keys it.", required=True),
    ("review", "statistic_id"): Field("statistic_id", "VARCHAR", "The statistic the fact is a citation of."),
    ("corrections", "sha256"): Field("sha256", "VARCHAR", "The document's SHA-256, or a unique prefix of at least 12 hex digits, as written in the file.", required=True),
    ("corrections", "quote"): Field("quote", "VARCHAR", "The fact's quote; for an added fact, the text that states it.", required=True),
    ("corrections", "field"): Field("field", "VARCHAR", "The facts column a set or add row gives; empty for reject."),
    ("corrections", "value"): Field("value", "VARCHAR", "The value a set or add row gives the field, as written (empty = null)."),
    ("corrections", "reason"): Field("reason", "VARCHAR", "Why the correction was made.", required=True),
    ("corrections", "fact_id"): Field("fact_id", "VARCHAR", "The fact the correction applied to (for add, the fact it created).", required=True),
    ("corrections", "document"): Field("document", "VARCHAR", "The document the correction's fact is in, at this run.", required=True),
    ("rejected_documents", "sha256"): Field("sha256", "VARCHAR", "SHA-256 of the file's bytes, where it could be read."),
    ("rejected_documents", "bytes"): Field("bytes", "BIGINT", "Size of the file in bytes, where it could be read.", minimum=0),
}


def field(table: str, name: str) -> Field:
    """The description of column ``name`` as used in ``table``."""
    return OVERRIDES.get((table, name)) or FIELDS[name]
