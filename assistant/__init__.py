"""trading-assistant: the application layer (config, sources, collection, cycle, daemon, CLI)."""

__version__ = "0.1.0"
