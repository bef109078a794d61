"""Daily OHLCV CSV files in the layouts people actually export, and a folder of them as a source.

Accepted: Yahoo Finance (`Date,Open,High,Low,Close,Adj Close,Volume`, also yfinance's
`to_csv` with its `Price/Ticker/Date` header rows or its `Dividends,Stock Splits`
columns), Stooq (`Date,Open,High,Low,Close,Volume`, the Polish header, and the bulk
`<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,...` layout with YYYYMMDD dates), Alpha Vantage
(`timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,split_coefficient`,
newest first). Headers are matched loosely (case, spaces, `*`, `<>`, `1. open`);
comma, semicolon and tab separators; ISO, YYYYMMDD, `Jan 02, 2024`, `02.01.2024` and
unambiguous `m/d/Y` or `d/m/Y` dates. The symbol comes from --symbol, a ticker column,
yfinance's ticker row, or the file name (`AAPL.csv`, `aapl.us.txt`, `daily_adjusted_IBM.csv`).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from assistant.errors import NoDataError
from assistant.ingest.sources.validate import ValidationError, validate
from store.symbols import SymbolError, validate_symbol

_ALIASES = {
    "date": {"date", "data", "timestamp", "datetime", "day"},
    "open": {"open", "otwarcie"},
    "high": {"high", "najwyzszy"},
    "low": {"low", "najnizszy"},
    "close": {"close", "zamkniecie", "last", "price"},
    "adj_close": {"adjclose", "adjustedclose", "adjclosingprice"},
    "volume": {"volume", "vol", "wolumen"},
    "dividend": {"dividends", "dividend", "dividendamount"},
    "split": {"stocksplits", "split", "splits", "splitcoefficient", "splitratio", "splitfactor"},
    "ticker": {"ticker", "symbol"},
    "per": {"per", "period"},
}
_CANON = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_NULLS = {"", "null", "nan", "n/a", "na", "-", "none"}
_DATE_SHAPES = [
    (re.compile(r"\d{4}-\d{2}-\d{2}"), ["%Y-%m-%d"]),  # also "2024-01-02 00:00:00-05:00"
    (re.compile(r"\d{8}$"), ["%Y%m%d"]),
    (re.compile(r"\d{4}/\d{1,2}/\d{1,2}$"), ["%Y/%m/%d"]),
    (re.compile(r"\d{1,2}/\d{1,2}/\d{4}$"), ["%m/%d/%Y", "%d/%m/%Y"]),
    (re.compile(r"\d{1,2}\.\d{1,2}\.\d{4}$"), ["%d.%m.%Y"]),
    (re.compile(r"[A-Za-z]{3} \d{1,2}, \d{4}$"), ["%b %d, %Y"]),
    (re.compile(r"\d{1,2}-[A-Za-z]{3}-\d{4}$"), ["%d-%b-%Y"]),
]


class CsvError(ValidationError):
    """A file that cannot be imported; the message names the reason."""


def _canon(header: str) -> str:
    text = header.strip().strip("<>").strip().lower()
    text = re.sub(r"^\d+\.\s*", "", text)  # Alpha Vantage JSON-style "1. open"
    return _CANON.get(re.sub(r"[^a-z]", "", text), "")


def _decode(data: bytes) -> str:
    if not data.strip():
        raise CsvError("the file is empty")
    if b"\x00" in data[:8192]:
        raise CsvError("a binary file, not CSV text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


def _parse_dates(values: pd.Series) -> pd.DatetimeIndex:
    text = values.astype(str)
    sample = text.iloc[0].strip()
    if len(sample) == 10 and sample[4] == "-":  # the common case, parsed without string work
        fast = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        if not fast.isna().any():
            return pd.DatetimeIndex(fast)
    text = text.str.strip()
    for shape, formats in _DATE_SHAPES:
        if not shape.match(sample):
            continue
        if formats == ["%Y-%m-%d"]:
            text = text.str.slice(0, 10)  # exchange-local date of a timestamp with an offset
        parsed = [pd.to_datetime(text, format=f, errors="coerce") for f in formats]
        complete = [p for p in parsed if not p.isna().any()]
        if len(complete) > 1:
            raise CsvError(f"dates like {sample!r} could be month/day or day/month; use YYYY-MM-DD")
        if not complete:
            best = parsed[0]
            raise CsvError(f"unreadable date {values[best.isna()].iloc[0]!r}")
        return pd.DatetimeIndex(complete[0])
    raise CsvError(f"unreadable date {sample!r}")


def _numbers(frame: pd.DataFrame, col: str, dates: pd.DatetimeIndex) -> np.ndarray:
    series = frame[col]
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=float)
    text = series.astype(str).str.strip().str.replace(",", "", regex=False)
    null = text.str.lower().isin(_NULLS) | series.isna()
    values = pd.to_numeric(text.where(~null), errors="coerce")
    bad = values.isna() & ~null
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise CsvError(f"non-numeric {col} {series.iloc[i]!r} on {dates[i]:%Y-%m-%d}")
    return values.to_numpy(dtype=float)


def _symbol_from_name(path: Path) -> str:
    stem = path.name.rsplit(".", 1)[0] if path.suffix.lower() in (".csv", ".txt") else path.name
    if stem.lower().endswith(".us"):
        stem = stem[:-3]
    for candidate in (stem, stem.rsplit("_", 1)[-1]):
        try:
            return validate_symbol(candidate)
        except SymbolError:
            continue
    raise CsvError(f"cannot tell the symbol from the file name {path.name!r}; pass --symbol")


def _stooq_symbol(ticker: str) -> str:
    ticker = ticker.strip()
    return ticker[:-3] if ticker.upper().endswith(".US") else ticker


def read_raw(
    data: bytes, *, name: str = "data.csv", symbol: str | None = None
) -> list[tuple[str, pd.DataFrame]]:
    """Parse one file's bytes into (symbol, raw frame) pairs, before validation."""
    text = _decode(data)
    lines = text.splitlines()
    first = lines[0]
    sep = max([",", ";", "\t"], key=first.count)
    skip: list[int] = []
    file_ticker = None
    cells = [c.strip() for c in first.split(sep)]
    if cells[0].lower() == "price" and len(lines) > 2 and lines[1].lower().startswith("ticker"):
        # yfinance's multi-level to_csv: Price/Ticker/Date header rows.
        file_ticker = lines[1].split(sep)[1].strip()
        cells[0] = "Date"
        skip = [1, 2]
    if len([line for line in lines if line.strip()]) < 2 + len(skip):
        raise CsvError("the file has a header but no rows")
    names = [_canon(c) for c in cells]
    missing = [n for n in ("date", "open", "high", "low", "close") if n not in names]
    if missing:
        raise CsvError(
            f"missing column(s) {', '.join(missing)} (found: {', '.join(c for c in cells if c)})"
        )
    usecols = [i for i, n in enumerate(names) if n and names.index(n) == i]
    date_col, ticker_col = names.index("date"), names.index("ticker") if "ticker" in names else None
    str_cols = {date_col: str, **({ticker_col: str} if ticker_col is not None else {})}
    if "per" in names:
        str_cols[names.index("per")] = str
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            skiprows=[0, *skip],
            usecols=usecols,
            dtype=str_cols,
            skipinitialspace=True,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise CsvError(f"not a readable CSV table ({str(exc).splitlines()[0]})") from None
    frame.columns = [names[i] for i in usecols]
    frame = frame[frame["date"].notna()]
    if frame.empty:
        raise CsvError("the file has a header but no rows")
    if "per" in frame.columns:
        periods = set(frame["per"].astype(str).str.strip().str.upper())
        if periods - {"D"}:
            raise CsvError(f"not daily data (period {', '.join(sorted(periods - {'D'}))})")
    dates = _parse_dates(frame["date"])
    cols = {
        c: _numbers(frame, c, dates) for c in frame.columns if c not in ("date", "ticker", "per")
    }
    raw = pd.DataFrame(cols, index=dates)
    # Yahoo writes rows of "null" for sessions without trades: nothing to store, not an error.
    keep = ~raw[["open", "high", "low", "close"]].isna().all(axis=1).to_numpy()
    raw = raw[keep]
    if raw.empty:
        raise CsvError("no rows with prices")
    if "adj_close" not in raw.columns and "Dividends" in cells and "Stock Splits" in cells:
        # yfinance history(): prices already adjusted (auto_adjust); its event columns are info only.
        raw = raw.drop(columns=["dividend", "split"])
        raw.attrs["adjusted"] = True
    if symbol is not None:
        return [(validate_symbol(symbol), raw)]
    if ticker_col is not None:
        tickers = frame["ticker"].astype(str).map(_stooq_symbol).to_numpy()[keep]
        out = []
        for tick in dict.fromkeys(tickers):
            try:
                sym = validate_symbol(tick)
            except SymbolError as exc:
                raise CsvError(f"ticker column: {exc}") from None
            part = raw[tickers == tick]
            part.attrs = dict(raw.attrs)
            out.append((sym, part))
        return out
    if file_ticker:
        return [(validate_symbol(file_ticker), raw)]
    return [(_symbol_from_name(Path(name)), raw)]


def load_file(
    path: Path, *, symbol: str | None = None, jump_threshold: float = 0.25
) -> list[tuple[str, pd.DataFrame]]:
    """Read and validate one file: (symbol, normalized frame) pairs, or CsvError/ValidationError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise CsvError("is a directory, not a file") from None
    except OSError as exc:
        raise CsvError(f"cannot read it ({exc.strerror})") from None
    out: list[tuple[str, pd.DataFrame]] = []
    for sym, raw in read_raw(data, name=path.name, symbol=symbol):
        try:
            frame = validate(
                raw, jump_threshold=jump_threshold, adjusted=raw.attrs.get("adjusted", False)
            )
        except ValidationError as exc:
            raise CsvError(f"{sym}: {exc}" if len(out) else str(exc)) from None
        out.append((sym, frame))
    return out


class CsvSource:
    """A folder of CSV files, one symbol per file (named as `import` expects)."""

    name = "csv"

    def __init__(self, folder: Path, *, jump_threshold: float = 0.25):
        self.folder = Path(folder)
        self.jump_threshold = jump_threshold

    def _file_for(self, symbol: str) -> Path | None:
        for path in sorted(self.folder.iterdir()):
            if path.is_file() and path.suffix.lower() in (".csv", ".txt"):
                try:
                    if _symbol_from_name(path) == symbol:
                        return path
                except CsvError:
                    continue
        return None

    def history(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        path = self._file_for(symbol)
        if path is None:
            raise NoDataError(f"no file for {symbol} in {self.folder}")
        frames = dict(load_file(path, symbol=symbol, jump_threshold=self.jump_threshold))
        part = frames[symbol].loc[pd.Timestamp(start) : pd.Timestamp(end)]
        if part.empty:
            raise NoDataError(f"{path.name} has no bars for {symbol} in that range")
        return part
