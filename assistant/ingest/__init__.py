"""Ingestion: data sources, validation, CSV import and incremental collection (DESIGN §4)."""
