"""Yahoo Finance through yfinance, with its hidden failures turned into typed errors.

yfinance hides most failures by default (empty frames, all-NaN columns, log lines). We
turn `config.debug.hide_exceptions` off so `Ticker.history()` raises, then sort what it
raises: YFRateLimitError, timeouts and network errors are TemporaryError (write nothing,
retry next run); YFPricesMissingError / YFTzMissingError are NoDataError. A batch
`download()` never raises per ticker, so a ticker that comes back all-NaN there is asked
again alone to learn which of the two it was. Prices are fetched unadjusted
(`auto_adjust=False`) so the raw close and the adjustment factor (Adj Close / Close) are kept.

yfinance also talks on its own: log lines on its `yfinance` logger (a failed download,
cookie and crumb trouble) and the odd print. None of that is our output: while it runs,
its logger and anything it prints go to our log at DEBUG (`_quiet`), and what it meant
reaches the user as our typed errors.

The yfinance module is injected (`yf=`), so tests fake it at exactly this boundary.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from assistant import calendar
from assistant.errors import NoDataError, TemporaryError
from assistant.ingest.sources.base import Quote
from assistant.ingest.sources.validate import ValidationError, validate, validate_hourly

_RENAME = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}
log = logging.getLogger(__name__)
RATE_LIMIT_PAUSE_S = 15 * 60  # after a 429, stop asking for a while (limits last long)
BATCH_SIZE = 50  # tickers per download() request
BATCH_THREADS = 4  # yfinance's own threads inside one download() (bounded concurrency)
REQUEST_GAP_S = 2.5  # pause between batched requests (old guidance: <= 2 requests per 5 s)
RATE_LIMIT_RETRIES = 2  # a 429 inside a run: back off and retry the batch this many times
BACKOFF_S = 30.0  # first back-off; doubles each retry
# Yahoo keeps one-hour bars for 730 days and refuses a request that starts earlier (its
# chart error "1h data not available for startTime=... and endTime=.... The requested
# range must be within the last 730 days.", raised by yfinance as YFPricesMissingError);
# a request starting exactly 730 days back is refused too, so ask for at most 729.
HOURLY_DAYS = 730


class _ToDebug(logging.Handler):
    """yfinance's log records, passed on to our logger at DEBUG."""

    def emit(self, record: logging.LogRecord) -> None:
        log.debug("yfinance: %s", record.getMessage())


_TO_DEBUG = _ToDebug()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep yfinance's own log lines and prints out of our output (they go to DEBUG)."""
    yf_log = logging.getLogger("yfinance")
    if _TO_DEBUG not in yf_log.handlers:
        yf_log.addHandler(_TO_DEBUG)
    yf_log.propagate = False  # not to the root logger (or Python's last-resort stderr)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            yield
    finally:
        for line in printed.getvalue().splitlines():
            if line.strip():
                log.debug("yfinance printed: %s", line)


class _RateLimited(Exception):
    """A batch hit Yahoo's rate limit (retried after a back-off, then given up)."""


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
        batch_size: int = BATCH_SIZE,
        batch_threads: int = BATCH_THREADS,
        request_gap_s: float = REQUEST_GAP_S,
        retries: int = RATE_LIMIT_RETRIES,
        backoff_s: float = BACKOFF_S,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.home = Path(home)
        self._yf = yf
        self._ready = False
        self.timeout = timeout
        self.default_exchange = default_exchange
        self.jump_threshold = jump_threshold
        self.clock = clock or (lambda: pd.Timestamp.now(tz="UTC"))
        self.blocked_until = 0.0
        if batch_size < 1 or batch_threads < 1:
            raise ValueError("batch_size and batch_threads must be at least 1")
        self.batch_size, self.batch_threads = batch_size, batch_threads
        self.request_gap_s, self.retries, self.backoff_s = request_gap_s, retries, backoff_s
        self.sleep = sleep

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

    def _ticker_history(self, symbol: str, **params: object) -> pd.DataFrame:
        """yfinance's `Ticker(symbol).history(**params)` as every single-symbol request is
        asked: not after a rate limit this run, with our timeout, yfinance's own chatter
        kept out of our output, failures raised as TemporaryError / NoDataError."""
        yf = self._module()
        self._check_blocked()
        try:
            with _quiet():
                raw = yf.Ticker(symbol).history(auto_adjust=False, timeout=self.timeout, **params)
        except Exception as exc:  # noqa: BLE001 - sorted into temporary / no data below
            raise self._classify(symbol, exc) from None
        return cast("pd.DataFrame", raw)

    def history(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        raw = self._ticker_history(
            symbol,
            start=pd.Timestamp(start).strftime("%Y-%m-%d"),
            end=(pd.Timestamp(end) + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),  # exclusive
            interval="1d",
            actions=True,
        )
        return self._normalize(symbol, raw, start, end)

    def quote(self, symbol: str) -> Quote:
        """The latest price of today's session: the close of the newest one-minute bar of
        `Ticker.history(period="1d", interval="1m")` (the bar still forming carries the
        last trade; Yahoo delays some exchanges by 15 minutes), quoted at that bar's start.
        One request a symbol, refused without asking after a rate limit (as `history`);
        an empty answer, or one with no price, is NoDataError."""
        raw = self._ticker_history(symbol, period="1d", interval="1m", prepost=False, actions=False)
        if raw is None or raw.empty or "Close" not in raw.columns:
            raise NoDataError(f"Yahoo has no quote for {symbol} now")
        closes = pd.to_numeric(raw["Close"], errors="coerce")
        closes = closes[np.isfinite(closes) & (closes > 0)]
        if closes.empty:
            raise NoDataError(f"Yahoo has no usable quote for {symbol} now")
        at = pd.Timestamp(closes.index[-1])
        at = at.tz_localize("UTC") if at.tz is None else at.tz_convert("UTC")
        return Quote(float(closes.iloc[-1]), at)

    def news(self, symbol: str) -> list[object]:
        """Yahoo's recent headlines for `symbol` (yfinance's `Ticker.news`), asked like
        `history`: not after a rate limit this run, yfinance's own chatter kept out of our
        output, failures raised as TemporaryError / NoDataError."""
        yf = self._module()
        self._check_blocked()
        try:
            with _quiet():
                items = yf.Ticker(symbol).news
        except Exception as exc:  # noqa: BLE001 - sorted into temporary / no data below
            raise self._classify(symbol, exc) from None
        return list(items or [])

    def history_many(
        self, symbols: list[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> dict[str, pd.DataFrame | Exception]:
        """Batched downloads of `batch_size` tickers each (yfinance fetches a batch with at
        most `batch_threads` threads), `request_gap_s` apart. A rate limit backs off
        (`backoff_s`, doubling) and retries the batch `retries` times; then it and every
        batch not asked yet get a TemporaryError (nothing written, retry next run)."""
        return self._many(symbols, start, end, "1d")

    def hourly_earliest(self, symbol: str) -> pd.Timestamp:
        """The first session date Yahoo still has one-hour bars for (by this source's clock):
        the day after 729 days back, where the exchange is, so a request never reaches
        the 730-day limit."""
        tz = calendar.exchange_tz(calendar.exchange_for(symbol, self.default_exchange))
        back = self.clock().tz_convert(tz) - pd.Timedelta(days=HOURLY_DAYS - 1)
        return back.tz_localize(None).normalize() + pd.Timedelta(days=1)

    def _hourly_range(
        self, symbols: list[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> tuple[pd.Timestamp, pd.Timestamp]:
        first = max(self.hourly_earliest(s) for s in symbols)
        return max(pd.Timestamp(start).normalize(), first), pd.Timestamp(end).normalize()

    def hourly(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """One-hour bars (the `store.hourly` frame shape) of the sessions in [start, end],
        the start clamped to the last 730 days Yahoo keeps. Regular hours only; prices as
        Yahoo sends them for 1h (split-adjusted, not dividend-adjusted: the basis of the
        daily raw close). The bar of an hour that has not ended is left out
        (`attrs["forming"]` counts it); bars outside the session's hours are dropped."""
        self._check_blocked()
        start, end = self._hourly_range([symbol], start, end)
        if start > end:
            raise NoDataError(f"Yahoo keeps one-hour bars for {HOURLY_DAYS} days only")
        raw = self._ticker_history(
            symbol,
            start=start.strftime("%Y-%m-%d"),
            end=(end + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),  # exclusive
            interval="1h",
            prepost=False,
            actions=False,
        )
        return self._normalize_hourly(symbol, raw, start, end)

    def hourly_many(
        self, symbols: list[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> dict[str, pd.DataFrame | Exception]:
        """`hourly` for many symbols, batched, spaced and backed off like `history_many`."""
        if not symbols:
            return {}
        start, end = self._hourly_range(symbols, start, end)
        return self._many(symbols, start, end, "1h")

    def _many(
        self, symbols: list[str], start: pd.Timestamp, end: pd.Timestamp, interval: str
    ) -> dict[str, pd.DataFrame | Exception]:
        self._module()
        out: dict[str, pd.DataFrame | Exception] = {}
        groups = [symbols[i : i + self.batch_size] for i in range(0, len(symbols), self.batch_size)]
        for g, group in enumerate(groups):
            if g:
                self.sleep(self.request_gap_s)
            try:
                out.update(self._group_with_backoff(group, start, end, interval))
            except _RateLimited:
                err = TemporaryError(
                    f"Yahoo rate limit (too many requests) after {self.retries} back-offs; "
                    "nothing written for this batch, retry later"
                )
                for rest in groups[g:]:
                    out.update({s: err for s in rest})
                break
            except TemporaryError as exc:  # blocked earlier in this run
                for rest in groups[g:]:
                    out.update({s: exc for s in rest})
                break
        return out

    def _group_with_backoff(
        self, group: list[str], start: pd.Timestamp, end: pd.Timestamp, interval: str = "1d"
    ) -> dict[str, pd.DataFrame | Exception]:
        for attempt in range(self.retries + 1):
            try:
                return self._download_group(group, start, end, interval)
            except _RateLimited:
                if attempt == self.retries:
                    self.blocked_until = time.monotonic() + RATE_LIMIT_PAUSE_S
                    raise
                self.sleep(self.backoff_s * 2**attempt)
                self.blocked_until = 0.0  # this retry is the deliberate one
        raise AssertionError("unreachable")

    def _download_group(
        self, symbols: list[str], start: pd.Timestamp, end: pd.Timestamp, interval: str = "1d"
    ) -> dict[str, pd.DataFrame | Exception]:
        """One batched download; tickers that came back empty are asked again one by one."""
        yf = self._module()
        self._check_blocked()
        try:
            with _quiet():
                data = yf.download(
                    symbols,
                    start=pd.Timestamp(start).strftime("%Y-%m-%d"),
                    end=(pd.Timestamp(end) + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
                    interval=interval,
                    auto_adjust=False,
                    actions=interval == "1d",
                    group_by="column",
                    progress=False,
                    threads=min(self.batch_threads, len(symbols)) if len(symbols) > 1 else False,
                    timeout=self.timeout,
                    multi_level_index=True,
                    **({"prepost": False, "ignore_tz": False} if interval == "1h" else {}),
                )
        except yf.exceptions.YFRateLimitError:
            raise _RateLimited() from None
        except Exception as exc:  # noqa: BLE001
            err = self._classify(",".join(symbols), exc)
            return {s: err for s in symbols}
        out: dict[str, pd.DataFrame | Exception] = {}
        for sym in symbols:
            part = _ticker_columns(data, sym)
            try:
                hourly = interval == "1h"
                if part is None or part[["Open", "High", "Low", "Close"]].isna().all().all():
                    # asked again alone: tells no-data from a network error
                    again = self.hourly if hourly else self.history
                    out[sym] = again(sym, start, end)
                elif hourly:
                    out[sym] = self._normalize_hourly(sym, part, start, end)
                else:
                    out[sym] = self._normalize(sym, part, start, end)
            except (TemporaryError, NoDataError) as exc:
                if time.monotonic() < self.blocked_until:  # that ticker's answer was a 429
                    raise _RateLimited() from None
                out[sym] = exc
        return out

    def _normalize(
        self, symbol: str, raw: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
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

    def _normalize_hourly(
        self, symbol: str, raw: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        if raw is None or raw.empty or "Close" not in raw.columns:
            raise NoDataError(f"Yahoo returned no one-hour bars for {symbol}")
        exchange = calendar.exchange_for(symbol, self.default_exchange)
        tz = calendar.exchange_tz(exchange)
        frame = raw.rename(columns=_RENAME)
        frame = frame[[c for c in ("open", "high", "low", "close", "volume") if c in frame]]
        frame = frame[~frame[["open", "high", "low", "close"]].isna().all(axis=1)]  # missing hours
        idx = pd.DatetimeIndex(frame.index)
        frame.index = idx.tz_localize(tz) if idx.tz is None else idx.tz_convert(tz)
        day = frame.index.tz_localize(None).normalize()
        frame = frame[(day >= pd.Timestamp(start)) & (day <= pd.Timestamp(end))]
        if frame.empty:
            raise NoDataError(f"Yahoo returned no one-hour bars for {symbol} in that range")
        try:
            return validate_hourly(frame, exchange, now=self.clock(), repair=True)
        except ValidationError as exc:
            raise NoDataError(f"Yahoo sent unusable one-hour bars for {symbol}: {exc}") from None


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
