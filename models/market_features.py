"""Market-context features, all causal: the value at session t uses closes up to t only.

Inputs are a wide close panel (index = session dates, one column per symbol, NaN where a
symbol has no bar) and optionally an index close series (e.g. ^GSPC). Without an index the
market is the equal-weight mean of the watchlist's daily log returns per date (symbols with
a return that day). Outputs are wide frames of the same shape or long frames indexed by
(date, symbol), ready to join onto model features.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd

from models.indicators import rolling

Frame = TypeVar("Frame", pd.DataFrame, pd.Series)

RETURN_WINDOWS = (1, 5, 20)
VOL_WINDOW = 20
BETA_WINDOW = 60
TRADING_DAYS = 252


def wide_closes(bars: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Dates x symbols of closes (NaN where a symbol has no bar), symbols sorted: the frame
    of the close Series, sorted by date. When every symbol has the same sessions (the usual
    watchlist) the columns are stacked as they are, without aligning 500 indexes."""
    names = sorted(bars)
    index = bars[names[0]].index if names else None
    if index is None or not all(bars[s].index.equals(index) for s in names[1:]):
        return pd.DataFrame({s: bars[s]["close"].astype(float) for s in names}).sort_index()
    values = np.column_stack([bars[s]["close"].to_numpy(dtype=float) for s in names])
    return pd.DataFrame(values, index=index, columns=pd.Index(names)).sort_index()


def panel_log_returns(closes: pd.DataFrame) -> pd.DataFrame:
    """Daily log returns per symbol (NaN on a symbol's first bar and across its gaps)."""
    return closes.astype(float).transform(np.log).diff()


def market_log_returns(closes: pd.DataFrame, index_close: pd.Series | None = None) -> pd.Series:
    """Daily market log return: from the index when given (aligned to the panel's dates, NaN
    where the index has no bar), else the equal-weight cross-sectional mean of log returns."""
    if index_close is not None:
        idx = index_close.astype(float).reindex(closes.index.union(index_close.index)).ffill()
        return idx.transform(np.log).diff().reindex(closes.index).rename("market")
    return panel_log_returns(closes).mean(axis=1, skipna=True).rename("market")


def trailing_sum(returns: Frame, window: int) -> Frame:
    """Sum of the last `window` daily log returns (t-window+1..t), NaN until the window fills."""
    return rolling(returns, window, "sum", window)


def market_features(market: pd.Series) -> pd.DataFrame:
    """Per date: market return over 1/5/20 sessions and its annualized 20-session
    realized volatility (sqrt(252 * mean squared daily return))."""
    cols = {f"mkt_ret_{w}": trailing_sum(market, w) for w in RETURN_WINDOWS}
    cols[f"mkt_vol_{VOL_WINDOW}"] = np.sqrt(
        TRADING_DAYS * (market**2).rolling(VOL_WINDOW, min_periods=VOL_WINDOW).mean()
    )
    return pd.DataFrame(cols, index=market.index)


def relative_returns(closes: pd.DataFrame, market: pd.Series, window: int) -> pd.DataFrame:
    """Symbol's `window`-session log return minus the market's over the same sessions."""
    own = trailing_sum(panel_log_returns(closes), window)
    return own.sub(trailing_sum(market, window), axis=0)


def rolling_beta(
    closes: pd.DataFrame, market: pd.Series, window: int = BETA_WINDOW
) -> pd.DataFrame:
    """OLS beta of each symbol's daily log return on the market's over the trailing `window`
    sessions of the panel, from the sessions where both returns exist (at least 80% of the
    window; NaN otherwise). All symbols at once, from rolling sums."""
    rets = panel_log_returns(closes)
    both = rets.notna().to_numpy() & market.notna().to_numpy()[:, None]
    y = np.where(both, rets.to_numpy(), 0.0)
    m = np.where(both, market.to_numpy()[:, None], 0.0)

    def total(values: np.ndarray) -> np.ndarray:
        return rolling(pd.DataFrame(values), window, "sum", 1).to_numpy()

    n = total(both.astype(float))
    sy, sm, sym, smm = total(y), total(m), total(y * m), total(m * m)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = (sym - sy * sm / n) / (smm - sm * sm / n)
    beta[(n < int(0.8 * window)) | ~both] = np.nan
    return pd.DataFrame(beta, index=closes.index, columns=closes.columns)


def build(closes: pd.DataFrame, index_close: pd.Series | None = None) -> pd.DataFrame:
    """Long frame indexed (date, symbol): mkt_ret_1/5/20, mkt_vol_20, rel_ret_1/5/20, beta_60.

    Rows exist where the symbol has a close."""
    market = market_log_returns(closes, index_close)
    parts = {f"rel_ret_{w}": relative_returns(closes, market, w) for w in RETURN_WINDOWS}
    parts[f"beta_{BETA_WINDOW}"] = rolling_beta(closes, market)
    long = pd.concat({k: v.stack(future_stack=True) for k, v in parts.items()}, axis=1)
    long.index.names = ["date", "symbol"]
    have = closes.stack(future_stack=True).notna()
    have.index.names = ["date", "symbol"]
    long = long[have.reindex(long.index).fillna(False).to_numpy(bool)]
    mkt = market_features(market)
    joined = long.join(mkt, on="date")
    return joined[list(mkt.columns) + list(parts)]


def forward_returns(closes: pd.DataFrame, h: int) -> pd.DataFrame:
    """Forward h-session log return per symbol: log C_{t+h} - log C_t (a LABEL, never a feature)."""
    logc = closes.astype(float).transform(np.log)
    return logc.shift(-h) - logc


def market_relative_target(
    closes: pd.DataFrame, h: int, index_close: pd.Series | None = None
) -> pd.DataFrame:
    """Symbol forward h-return minus the market's forward h-return over the same sessions
    (a LABEL: what a stock-picking call should predict, free of the market's direction)."""
    market = market_log_returns(closes, index_close)
    mkt_fwd = market.rolling(h, min_periods=h).sum().shift(-h)
    return forward_returns(closes, h).sub(mkt_fwd, axis=0)
