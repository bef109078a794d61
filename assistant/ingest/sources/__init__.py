"""Market data sources. Each returns daily bars in one normalized shape (see base.py)."""
