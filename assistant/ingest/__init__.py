"""Ingestion: data sources, validation, CSV import and incremental collection (README: "Market data")."""
