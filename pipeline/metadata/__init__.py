"""The single home of schema and reference data: fields, tables, taxonomy."""
