"""The static HTML report: every figure highlighted in its source, charts, and the review queue.

``build_report(database_path, out_dir)`` reads the curated database and writes a folder of
self-contained pages (no network, no script or font from elsewhere) that opens from a
``file://`` URL. ``data`` reads the tables, ``highlight`` marks figures in text, ``charts``
draws SVG, ``build`` renders the Jinja templates in ``templates/``.
"""

from pipeline.report.build import ReportResult, build_report, safe_url

__all__ = ["ReportResult", "build_report", "safe_url"]
