"""The SQLite store: schema, migrations and typed reads/writes. Depends on sqlite-utils only."""
