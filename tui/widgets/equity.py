"""The paper account's panel: its equity against equal-weight buy-and-hold (both indexed
to 100 at the account's first session), its drawdown, and the policy it follows and the
open positions in the title.

Hidden until the daemon has stepped the account once (store.paper.panel gives None). A
holding with no bar for a while (valued at its last close) reads STALE and its sessions.
"""

from __future__ import annotations

from textual.reactive import reactive

from store.paper import PaperPanel
from tui.widgets.axes import DateChart


def title_of(account: PaperPanel) -> str:
    """Where the account stands, next to buy-and-hold, and what it holds."""
    paper, hold = account["paper"][-1], account["hold"][-1]
    vs = f" · hold {hold - 100:+.1f}%" if hold is not None else ""
    if policy := account.get("policy"):  # what the account followed (vocab.paper)
        vs += f" · policy {policy}"
    held = ", ".join(
        f"{p['symbol']} {'+' if p['side'] == 'long' else '-'}{abs(p['value']):,.0f}"
        + (f" STALE {n} sessions" if (n := p.get("stale_sessions", 0)) else "")
        # a stale holding first: the title shows six
        for p in sorted(account["positions"], key=lambda p: -p.get("stale_sessions", 0))[:6]
    )
    return (
        f"Paper {account['session']}: {account['equity']:,.0f} ({paper - 100:+.1f}%){vs}\n"
        f"drawdown {account['drawdown'][-1]:.1f}% · held: {held or 'nothing'}"
    )


class EquityChart(DateChart):
    account: reactive[PaperPanel | None] = reactive(None, always_update=True)

    def watch_account(self, account: PaperPanel | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        dates = account["dates"] if account else []
        self.set_span(dates[0] if dates else None, dates[-1] if dates else None)
        if account and dates:
            plt.date_form("Y-m-d")
            hold = [(d, v) for d, v in zip(dates, account["hold"], strict=True) if v is not None]
            if hold:
                plt.plot(
                    [d for d, _ in hold],
                    [v for _, v in hold],
                    label="buy-and-hold",
                    marker="braille",
                    color="orange",
                )
            plt.plot(dates, account["paper"], label=account["book"], marker="braille", color="cyan")
            plt.plot(
                dates,
                [100 + d for d in account["drawdown"]],
                label="100 + drawdown %",
                marker="braille",
                color="red",
            )
        self.refresh()
