"""Yahoo Finance through yfinance, with its hidden failures turned into typed errors.

yfinance hides most failures by default (empty frames, all-NaN columns, log lines). We
turn `config.debug.hide_exceptions` off so `Ticker.history()` raises, then sort what it
raises: YFRateLimitError, timeouts and network errors are TemporaryError (write nothing,
retry next run); YFPricesMissingError / YFTzMissingError are NoDataError. A batch
`download()` never raises per ticker, so a ticker that comes back all-NaN there is asked
again alone to learn which of the two it was. Prices are fetched unadjusted
(`auto_adjust=False`) so the raw close and the adjustment factor (Adj Close / Close) are kept.

The yfinance module is injected (`yf=`), so tests fake it at exactly this boundary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from assistant import calendar
from assistant.errors import NoDataError, TemporaryError
from assistant.ingest.sources.validate import ValidationError, validate

_RENAME = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}
RATE_LIMIT_PAUSE_S = 15 * 60  # after a 429, stop asking for a while (limits last long)


class YahooSource:
    name = "yahoo"

    def __init__(
        self,
        home: Path,
        *,
        yf: Any = None,
        timeout: float = 10.0,
        default_exchange: str = "XNYS",
        jump_threshold: float = 0.25,
        clock: Callable[[], pd.Timestamp] | None = None,
    ):
        self.home = Path(home)
        self._yf = yf
        self._ready = False
        self.timeout = timeout
        self.default_exchange = default_exchange
        self.jump_threshold = jump_threshold
        self.clock = clock or (lambda: pd.Timestamp.now(tz="UTC"))
        self.blocked_until = 0.0

    def _module(self) -> Any:
        """yfinance, configured on first use: its tz cache in the data home, exceptions on."""
        if self._yf is None:
            import yfinance

            self._yf = yfinance
        if not self._ready:
            cache = self.home / "yfinance-cache"
            cache.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._yf.set_tz_cache_location(str(cache))
            self._yf.config.debug.hide_exceptions = False
            self._ready = True
        return self._yf

    def _check_blocked(self) -> None:
        if time.monotonic() < self.blocked_until:
            raise TemporaryError("Yahoo rate limit hit earlier in this run; not asking again yet")

    def _classify(self, symbol: str, exc: Exception) -> Exception:
        errors = self._yf.exceptions
        if isinstance(exc, errors.YFRateLimitError):
            self.blocked_until = time.monotonic() + RATE_LIMIT_PAUSE_S
            return TemporaryError(
                "Yahoo rate limit (too many requests); nothing written, retry later"
            )
        if isinstance(exc, (errors.YFPricesMissingError, errors.YFTzMissingError)):
            return NoDataError(f"Yahoo has no data for {symbol}: {str(exc).split(': ', 1)[-1]}")
        kind = (
            "timeout"
            if "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower()
            else "network error"
        )
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return TemporaryError(f"{kind} talking to Yahoo ({first}); nothing written, retry later")

    def history(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        yf = self._module()
        self._check_blocked()
        try:
            raw = yf.Ticker(symbol).history(
                start=pd.Timestamp(start).strftime("%Y-%m-%d"),
                end=(pd.Timestamp(end) + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),  # exclusive
                interval="1d",
                auto_adjust=False,
                actions=True,
                timeout=self.timeout,
            )
        except Exception as exc:  # noqa: BLE001 - sorted into temporary / no data below
            raise self._classify(symbol, exc) from None
        return self._normalize(symbol, raw, start, end)

    def history_many(
        self, symbols: list[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> dict[str, pd.DataFrame | Exception]:
        """One batched download; tickers that came back empty are asked again one by one."""
        yf = self._module()
        self._check_blocked()
        try:
            data = yf.download(
                symbols,
                start=pd.Timestamp(start).strftime("%Y-%m-%d"),
                end=(pd.Timestamp(end) + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
                interval="1d",
                auto_adjust=False,
                actions=True,
                group_by="column",
                progress=False,
                threads=False,
                timeout=self.timeout,
                multi_level_index=True,
            )
        except Exception as exc:  # noqa: BLE001
            err = self._classify(",".join(symbols), exc)
            return {s: err for s in symbols}
        out: dict[str, pd.DataFrame | Exception] = {}
        for sym in symbols:
            part = _ticker_columns(data, sym)
            try:
                if part is None or part[["Open", "High", "Low", "Close"]].isna().all().all():
                    out[sym] = self.history(sym, start, end)  # tells no-data from network error
                else:
                    out[sym] = self._normalize(sym, part, start, end)
            except (TemporaryError, NoDataError) as exc:
                out[sym] = exc
        return out

    def _normalize(self, symbol: str, raw: pd.DataFrame, start: Any, end: Any) -> pd.DataFrame:
        if raw is None or raw.empty or "Close" not in raw.columns:
            raise NoDataError(f"Yahoo returned no bars for {symbol}")
        exchange = calendar.exchange_for(symbol, self.default_exchange)
        frame = raw.rename(columns=_RENAME)
        frame = frame[[c for c in _RENAME.values() if c in frame.columns]]
        idx = pd.DatetimeIndex(frame.index)
        if idx.tz is not None:
            if str(idx.tz) in ("UTC", "utc") and exchange not in ("24/7", "24/5"):
                idx = idx.tz_convert(calendar.exchange_tz(exchange))
            idx = idx.tz_localize(None)  # wall time in the exchange's zone: the session date
        frame.index = idx.normalize()
        frame = frame[~frame[["open", "high", "low", "close"]].isna().all(axis=1)]
        frame = frame.loc[pd.Timestamp(start).normalize() : pd.Timestamp(end).normalize()]
        if frame.empty:
            raise NoDataError(f"Yahoo returned no bars for {symbol} in that range")
        now = self.clock()
        # Only the last day or two can still be open; the calendar lookup is not free.
        recent = frame.index >= now.tz_localize(None).normalize() - pd.Timedelta(days=2)
        provisional = np.zeros(len(frame), dtype=int)
        provisional[recent] = [
            int(not calendar.session_closed(exchange, d, now)) for d in frame.index[recent]
        ]
        frame["provisional"] = provisional
        try:
            return validate(
                frame, jump_threshold=self.jump_threshold, duplicates="last", repair=True
            )
        except ValidationError as exc:
            raise NoDataError(f"Yahoo sent unusable bars for {symbol}: {exc}") from None


def _ticker_columns(data: pd.DataFrame, symbol: str) -> pd.DataFrame | None:
    """One ticker's columns from download()'s (Price, Ticker) MultiIndex frame."""
    if data is None or data.empty:
        return None
    if isinstance(data.columns, pd.MultiIndex):
        level = "Ticker" if "Ticker" in data.columns.names else 1
        if symbol not in data.columns.get_level_values(level):
            return None
        # xs on a column level of a MultiIndex always gives a frame
        return cast(pd.DataFrame, data.xs(symbol, axis=1, level=level))
    return data
