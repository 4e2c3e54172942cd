"""The README.md inside every release: what it holds, its licence, how to cite it, and the data dictionary.

Everything comes from the release's own datapackage.json, which ``pipeline/metadata/fields.py``
feeds, so the dictionary a user reads is the schema the files have.
"""

from __future__ import annotations

from typing import Any

# The Parquet type each Frictionless type is written as (pipeline/metadata/schema.py).
_PARQUET_TYPE = {"string": "string", "integer": "int64", "number": "double", "date": "date32", "boolean": "bool"}


def suggested_citation(descriptor: dict[str, Any]) -> str:
    year = str(descriptor.get("created", ""))[:4] or "n.d."
    return (
        f"{descriptor.get('title', descriptor.get('name'))} ({year}). Data set, version {descriptor['version']}. "
        f"Licence {descriptor['licenses'][0]['name']}. Content hash sha256:{descriptor.get('content_sha256', '')}."
    )


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _constraints(field: dict[str, Any]) -> str:
    c = field.get("constraints", {})
    parts = []
    if c.get("required"):
        parts.append("required")
    if "minimum" in c or "maximum" in c:
        parts.append(f"{c.get('minimum', '')}..{c.get('maximum', '')}")
    if "enum" in c:
        parts.append("one of " + ", ".join(f"`{v}`" for v in c["enum"]))
    return "; ".join(parts)


def data_dictionary(descriptor: dict[str, Any]) -> list[str]:
    lines = []
    for r in descriptor["resources"]:
        key = r["schema"].get("primaryKey") or []
        lines += [
            f"### `{r['path']}` ({r.get('rows', '?')} rows)",
            "",
            _cell(r.get("description", "")) + (f" Primary key: {', '.join(f'`{k}`' for k in key)}." if key else ""),
            "",
            "| column | type | constraints | meaning |",
            "|---|---|---|---|",
        ]
        for f in r["schema"]["fields"]:
            kind = f["type"] if r.get("format") == "csv" else f"{f['type']} ({_PARQUET_TYPE.get(f['type'], f['type'])})"
            lines.append(f"| `{f['name']}` | {kind} | {_constraints(f)} | {_cell(f.get('description', ''))} |")
        lines.append("")
    return lines


def release_readme(descriptor: dict[str, Any], texts_note: str) -> str:
    """The release's README.md. ``texts_note`` says which document texts the release carries, and why."""
    licence = descriptor["licenses"][0]
    version = descriptor["version"]
    lines = [
        f"# {descriptor.get('title', descriptor['name'])}, release {version}",
        "",
        _cell(descriptor.get("description", "")),
        "",
        (f"Version `{version}`: the publication date and the first digits of the sha256 of the content "
        f"(`content_sha256` in `datapackage.json`, taken over the descriptor and the sha256 of each table's rows "
        "written as CSV, which `rows_sha256` lists). A release is never changed after it is published; cite "
        "the version, not `latest`."),
        "",
        "## Licence",
        "",
        (f"The data is licensed under [{licence['title']}]({licence['path']}) ({licence['name']}): you may share "
        "and adapt it for any purpose, giving credit as below. Each figure was compiled by the body named in "
        "its `source` column and published in the document named in its `document` column; quotes are short "
        "extracts given for verification. The texts of the source documents remain under their publishers' "
        "terms. The code that builds the release is MIT-licensed."),
        "",
        "## How to cite",
        "",
        suggested_citation(descriptor),
        "",
        ("To cite one figure, give the release version, its `fact_id`, and the document it was read from "
        "(`document_title`, `document_url` and `document_published` in `facts.csv`)."),
        "",
        "## What the release holds",
        "",
        texts_note,
        "",
        ("`SHA256SUMS` lists the sha256 of every other file (`sha256sum -c SHA256SUMS`); `datapackage.json` is "
        "a Frictionless Data Package describing every file (`frictionless validate datapackage.json`); "
        "`CHANGES.md` lists every figure added, removed or changed since the previous release."),
        "",
        "## Data dictionary",
        "",
        ("Types are Frictionless types, with the Parquet type in brackets. In pandas, integer columns read "
        "as nullable `Int64` and decimals as `Float64`; an empty cell of `facts.csv` is a null."),
        "",
        *data_dictionary(descriptor),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"
