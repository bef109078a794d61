"""Signal contributions of the latest call, as signed bars (positive pushes the call up)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from store.views.symbol import HistoryCall, SymbolDetail
from vocab.text import move_pct

WIDTH = 20


def render_contributions(pairs: list[tuple[str, float]], latest: HistoryCall | None) -> Text:
    text = Text()
    if not latest:
        return Text("no call yet for this symbol", style="dim")
    text.append(
        f"Latest call: as of {latest['as_of']}, {latest['horizon']}d, "
        f"{latest['direction']} {move_pct(latest['pred_change_pct'])}, model {latest['model_version']}\n",
        style="bold",
    )
    signals = latest["signals"]
    raw: dict[str, object] = signals if isinstance(signals, dict) else {}
    if raw.get("serving") == "rules" or raw.get("note"):
        text.append(
            f"serving: {raw.get('note') or 'rule signals only (no usable model yet)'}\n",
            style="yellow",
        )
    if not pairs:
        return text.append("(this call recorded no signal contributions)", style="dim")
    top = max(abs(v) for _, v in pairs) or 1.0
    for name, value in pairs:
        n = round(abs(value) / top * WIDTH)
        text.append(f"{name:>14} {value:+.3f} ")
        text.append("█" * n, style="green" if value > 0 else "red")
        text.append("\n")
    return text


class SignalBars(Static):
    detail: reactive[SymbolDetail | None] = reactive(None, always_update=True)

    def watch_detail(self, detail: SymbolDetail | None) -> None:
        pairs, latest = (detail["signals"], detail["latest"]) if detail else ([], None)
        self.update(render_contributions(pairs, latest))
