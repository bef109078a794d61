"""The paper account's policies in words: what the CLI and the dashboard call the policy the
account followed (the label `assistant.paper` stores with each session of the paper book)."""

from __future__ import annotations

POLICY_TEXT = {
    "volatility": "volatility-managed: always long, sized by the volatility forecast; "
    "no ranking tilt (only a ranking whose verdict passed tilts it)",
    "volatility+tilt": "volatility-managed: always long, sized by the volatility forecast, "
    "tilted by the ranking (its verdict passed)",
    "calls": "direction calls (opt-in: [paper] policy = calls), of the symbols whose calls "
    "passed their verdict in `report` only; the rest flat",
    "long": "always long, sized by the volatility forecast",
    "ranking": "the top of the ranking model",
    "hold": "equal-weight buy-and-hold",
}


def policy_text(label: str | None) -> str:
    """A stored policy label in words (an account stepped before labels: "not recorded")."""
    if not label:
        return "not recorded (the account was stepped before it named its policy)"
    return f"{label}: {POLICY_TEXT.get(label, 'unknown policy')}"
