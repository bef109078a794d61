"""Small formatting helpers shared by the tables (numbers, percentages, call arrows)."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import Static

from store.quotes import LiveQuote
from store.rankings import Ranking
from store.views.calls import Call
from vocab.status import human_age
from vocab.text import move_pct

ARROWS = {"up": ("▲", "green"), "down": ("▼", "red"), "flat": ("■", "yellow")}
REGIME_STYLE = {"bullish": "green", "bearish": "red", "volatile": "magenta", "sideways": "yellow"}


def num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def pct(value: float | None, digits: int = 0) -> str:
    """A 0..1 rate as a percentage."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def signed(value: float | None, digits: int = 2) -> Text:
    if value is None:
        return Text("—")
    return Text(f"{value:+.{digits}f}%", style="green" if value > 0 else "red" if value < 0 else "")


def call(pred: Call | None) -> Text:
    """'▲ +0.80% 1d' for a prediction row."""
    if not pred:
        return Text("no call yet", style="dim")
    arrow, style = ARROWS.get(pred["direction"] or "", ("?", ""))
    if pred["direction"] == "flat":
        # FLAT is no directional call (the evidence was too weak): "no call", the one
        # wording of the app and the CLI; why is said once, in a title
        return Text(f"no call {pred['horizon']}d", style="dim")
    return Text(f"{arrow} {move_pct(pred['pred_change_pct'])} {pred['horizon']}d", style=style)


def price_range(lower: float | None, upper: float | None) -> str:
    """'182.1–190.4': a range of the target close; whole numbers from 1,000 up ('1401–1456')
    so it fits 11 columns."""
    if lower is None or upper is None:
        return "—"
    digits = 1 if max(abs(lower), abs(upper)) < 1000 else 0
    return f"{lower:.{digits}f}–{upper:.{digits}f}"


def coverage(rate: float | None, n: int) -> str:
    """'80% n=50': how often the close landed inside the range, over n verified calls."""
    return "—" if rate is None else f"{rate * 100:.0f}% n={n}"


def confidence(pred: Call | None) -> str:
    """The probability of the called direction; a FLAT call claims no direction: '—'."""
    if not pred or pred["direction"] == "flat":
        return "—"
    return pct(pred["confidence"])


def regime(label: str | None) -> Text:
    return Text(label or "—", style=REGIME_STYLE.get(label or "", "dim"))


def hit_vs_base(hit: float | None, base: float | None, n: int) -> Text:
    if hit is None:  # no verified UP/DOWN call: the panel titles say so once
        return Text("—", style="dim")
    style = (
        "green"
        if base is not None and hit > base
        else "red"
        if base is not None and hit < base
        else ""
    )
    return Text(f"{hit * 100:.0f}% n={n}", style=style)


def set_static(widget: Static, content: str | Text, *, layout: bool = False) -> None:
    """Update a Static only when its content changed; fixed-height lines skip the relayout.

    Every `Static.update` would otherwise repaint (and by default re-layout) the screen,
    which costs far more than the read behind it.
    """
    if getattr(widget, "_shown", None) == content:
        return
    widget._shown = content  # type: ignore[attr-defined]  # remembered on the widget itself
    widget.update(content, layout=layout)


def rank(r: Ranking | None) -> Text:
    """The ranking model's rank among the ranked symbols (1 = best) and the
    expected move relative to their mean, e.g. '2/6 +0.31%'."""
    if not r:
        return Text("—", style="dim")
    rel = 100 * (math.exp(r["relative"]) - 1)
    style = "green" if rel > 0 else "red" if rel < 0 else ""
    return Text(f"{r['rank']}/{r['of']} {rel:+.2f}%", style=style)


def live_move(q: LiveQuote | None) -> Text:
    """'+1.23% +0.8σ': the move since the last close, and in the day's forecast sigmas; a
    stale quote says 'stale' and its age instead, never a number that looks live."""
    if q is None:
        return Text("—", style="dim")
    if q["state"] == "stale":
        return Text(f"stale {human_age(q['age_s'])}", style="bold yellow")
    move = q["move_pct"]
    if move is None:
        return Text(f"{q['price']:,.2f}", style="dim" if q["state"] == "closed" else "")
    sig = q["sigmas"]
    text = f"{move:+.2f}%" + ("" if sig is None else f" {sig:+.1f}σ")
    style = "green" if move > 0 else "red" if move < 0 else ""
    return Text(text, style=f"dim {style}".strip() if q["state"] == "closed" else style)


BAND_TEXT = {"inside80": ("in 80%", "green"), "inside95": ("in 95%", "yellow")}


def live_band(q: LiveQuote | None) -> Text:
    """Where the price stands against today's ranges: 'in 80%', 'in 95%', 'OUT 95%', or
    'left 95%' (back inside after leaving it this session); '—' stale or no range."""
    if q is None or q["state"] == "stale" or q["band"] is None:
        return Text("—", style="dim")
    if q["band"] == "outside95":
        return Text("OUT 95%", style="bold red")
    if q["left95"]:
        return Text("left 95%", style="red")
    label, style = BAND_TEXT[q["band"]]
    return Text(label, style=style)
