"""How the project's numbers read, alike in the CLI and the dashboard."""

from __future__ import annotations


def move_pct(value: float) -> str:
    """An expected % move with the digits it needs: a small DOWN move reads '-0.004%', never
    '-0.00%' (a direction with no visible size)."""
    if value == 0 or abs(value) >= 0.01:
        return f"{value:+.2f}%"
    return f"{value:+.3f}%" if abs(value) >= 0.001 else f"{'-' if value < 0 else '+'}<0.001%"
