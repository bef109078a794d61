"""Daily OHLCV CSV files in the layouts people actually export, and a folder of them as a source.

Accepted: Yahoo Finance (`Date,Open,High,Low,Close,Adj Close,Volume`, also yfinance's
`to_csv` with its `Price/Ticker/Date` header rows or its `Dividends,Stock Splits`
columns), Stooq (`Date,Open,High,Low,Close,Volume`, the Polish header, and the bulk
`<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,...` layout with YYYYMMDD dates), Alpha Vantage
(`timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,split_coefficient`,
newest first). Headers are matched loosely (case, spaces, `*`, `<>`, `1. open`);
comma, semicolon and tab separators; decimal points or, outside comma-separated files,
decimal commas (`58,25;59,38`), decided from the cells and refused when they cannot tell;
ISO, YYYYMMDD, `Jan 02, 2024`, `02.01.2024` and unambiguous `m/d/Y` or `d/m/Y` dates. The
symbol comes from --symbol, a ticker column, yfinance's ticker row, or the file name
(`AAPL.csv`, `aapl.us.txt`, `daily_adjusted_IBM.csv`).

Only regular files are read (a FIFO would block, a device never ends), at most
MAX_FILE_BYTES, in chunks of CHUNK_ROWS lines turned into numbers as they come.
"""

from __future__ import annotations

import ctypes
import io
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pandas as pd

from assistant import calendar
from assistant.errors import NoDataError
from assistant.ingest.sources.validate import ValidationError, validate, validate_hourly
from store.symbols import SymbolError, validate_symbol

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

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


PRICE_COLUMNS = ["open", "high", "low", "close"]
MAX_FILE_BYTES = 256 << 20  # ~4.5M daily rows (peak ~0.7 GB): split anything bigger
CHUNK_ROWS = 100_000  # lines parsed at a time
_HEAD_BYTES = 64 << 10


class CsvError(ValidationError):
    """A file that cannot be imported; the message names the reason."""


def _is_time(header: str) -> bool:
    return re.sub(r"[^a-z]", "", header.strip().strip("<>").lower()) == "time"


def _canon(header: str) -> str:
    text = header.strip().strip("<>").strip().lower()
    text = re.sub(r"^\d+\.\s*", "", text)  # Alpha Vantage JSON-style "1. open"
    return _CANON.get(re.sub(r"[^a-z]", "", text), "")


UTF8 = "utf-8-sig"  # UTF-8 with or without Excel's byte-order mark
# Excel's "CSV (Comma delimited)" writes the Windows ANSI code page (cp1252 in the West)
FIX_ENCODING = 'save it from Excel as "CSV UTF-8", or pass --encoding cp1252'


def _not_text(encoding: str, what: str) -> CsvError:
    if encoding == UTF8:
        return CsvError(f"not UTF-8 text ({what}): {FIX_ENCODING}")
    return CsvError(f"not {encoding} text ({what})")


def _head(handle: BinaryIO, encoding: str = UTF8) -> str:
    """The file's first lines as text (enough for the header), after the cheap refusals."""
    data = handle.read(_HEAD_BYTES)
    if not data.strip():
        raise CsvError("the file is empty")
    if b"\x00" in data[:8192]:
        raise CsvError("a binary file, not CSV text")
    if len(data) == _HEAD_BYTES and b"\n" in data:
        data = data[: data.rindex(b"\n")]  # a character may be cut at the end of the read
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _not_text(encoding, f"byte 0x{data[exc.start]:02x} at offset {exc.start}") from None


def _parse_dates(
    values: pd.Series, formats: list[str] | None
) -> tuple[pd.DatetimeIndex, list[str]]:
    """Parse one chunk's dates; the format chosen for the first chunk binds the later ones."""
    text = values.astype(str)
    sample = text.iloc[0].strip()
    if formats in (None, ["%Y-%m-%d"]) and len(sample) == 10 and sample[4] == "-":
        # the common case, parsed without string work
        fast = _each_once(text, "%Y-%m-%d")
        if not fast.isna().any():
            return pd.DatetimeIndex(fast), ["%Y-%m-%d"]
    elif formats is not None and len(formats) == 1:
        # the format the first chunk chose, tried on the cells as they are: stripping 100k
        # cells is for the chunk that needs it
        fast = _each_once(text, formats[0])
        if not fast.isna().any():
            return pd.DatetimeIndex(fast), formats
    text = text.str.strip()
    if formats is None:
        formats = next((f for shape, f in _DATE_SHAPES if shape.match(sample)), None)
        if formats is None:
            raise _at(values.index[0], f"unreadable date {sample!r}")
    if formats == ["%Y-%m-%d"]:
        text = text.str.slice(0, 10)  # exchange-local date of a timestamp with an offset
    parsed = [pd.to_datetime(text, format=f, errors="coerce") for f in formats]
    complete = [(p, f) for p, f in zip(parsed, formats, strict=True) if not p.isna().any()]
    if len(complete) > 1:
        raise CsvError(f"dates like {sample!r} could be month/day or day/month; use YYYY-MM-DD")
    if not complete:
        bad = parsed[0].isna().to_numpy()
        raise _at(values.index[bad][0], f"unreadable date {values[bad].iloc[0]!r}")
    return pd.DatetimeIndex(complete[0][0]), [complete[0][1]]


def _each_once(text: pd.Series, fmt: str) -> pd.Series:
    """`pd.to_datetime(text, format=fmt, errors="coerce")`, each distinct cell parsed once:
    a bulk file repeats each date once per ticker (100k rows, ~5k dates a chunk)."""
    codes, cells = pd.factorize(text.to_numpy(), use_na_sentinel=False)
    parsed = pd.to_datetime(cells, format=fmt, errors="coerce")
    return pd.Series(parsed.to_numpy()[codes], index=text.index)


_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_TIME = re.compile(r"[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")


def _parse_times(values: pd.Series) -> tuple[pd.DatetimeIndex, bool]:
    """One chunk's bar times, ISO-8601 with a time of day ("2024-03-08 09:30", with or
    without seconds and a UTC offset): naive wall times, or UTC when every cell has an
    offset (the second value says which). A file mixing both is refused."""
    text = values.astype(str).str.strip()
    offset = text.str.contains(_OFFSET).to_numpy(dtype=bool)
    if offset.any() and not offset.all():
        i = int(np.argmin(offset)) if offset[0] else int(np.argmax(offset))
        raise _at(
            values.index[i],
            f"time {text.iloc[i]!r}: some times in this file give their UTC offset and some "
            "do not; write them all one way",
        )
    aware = bool(offset.all())
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=aware)
    timed = text.str.contains(r"[ T]\d{1,2}:\d{2}").to_numpy(dtype=bool)
    bad = parsed.isna().to_numpy() | ~timed
    if bad.any():
        i = int(np.argmax(bad))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.iloc[i]):  # a daily file given --hourly
            raise _at(
                values.index[i],
                f"{text.iloc[i]!r} is a date without a time of day: one-hour bars need one "
                "(e.g. 2024-03-08 09:30); import daily bars without --hourly",
            )
        raise _at(values.index[i], f"unreadable bar time {text.iloc[i]!r} (e.g. 2024-03-08 09:30)")
    index = pd.DatetimeIndex(parsed)
    return (index.tz_convert("UTC").tz_localize(None) if aware else index), aware


def looks_hourly(path: Path, encoding: str = UTF8) -> bool:
    """Whether a file's first rows carry times of day other than midnight (hourly bars):
    yfinance writes daily bars as "2024-01-02 00:00:00-05:00", hourly ones with the hour."""
    try:
        with open_regular(Path(path)) as handle:
            lines = _head(handle, encoding).splitlines()
    except ValidationError:
        return False  # the daily reader says what is wrong with it
    sep = max([",", ";", "\t"], key=lines[0].count)
    cells = [c.strip() for c in lines[0].split(sep)]
    body = lines[1:40]
    if cells[0].lower() == "price" and len(lines) > 2 and lines[1].lower().startswith("ticker"):
        cells[0], body = "Date", lines[3:40]  # yfinance's Price/Ticker/Datetime header rows
    names = [_canon(c) for c in cells]
    if "date" not in names:
        return False
    col = names.index("date")
    for line in body:
        cells = line.split(sep)
        if len(cells) > col and (m := _TIME.search(cells[col])) is not None:
            if any(int(g or 0) for g in m.groups()):
                return True
    return False


def _at(line: int, what: str) -> CsvError:
    return CsvError(f"line {line}: {what}")


# A number as written with a decimal point ("1234.5", "1e308", "1,234.50") or with a
# decimal comma ("1234,5", "1.234,50"). Digits with one separator followed by exactly three
# digits ("1,234", "1.234") read as either: only the file's other cells can tell.
_POINT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[-+]?\d{1,3}(,\d{3})+(\.\d*)?")
_COMMA = re.compile(r"[-+]?(\d+,?\d*|,\d+)([eE][-+]?\d+)?|[-+]?\d{1,3}(\.\d{3})+(,\d*)?")


class _Decimals:
    """Which decimal mark a file's numbers use, decided from its cells, never guessed.

    In a comma-separated file a comma inside a quoted number is a thousands separator.
    Elsewhere the first cell that reads one way only (e.g. "58,25" or "187.15") decides
    for the whole file; a cell that reads as two different numbers before that is refused.
    """

    def __init__(self, sep: str):
        self.mark: str | None = "." if sep == "," else None

    def parse(self, text: pd.Series, col: str) -> np.ndarray:
        """text: non-null stripped cells, indexed by line number."""
        point = text.str.fullmatch(_POINT).to_numpy(dtype=bool)
        comma = text.str.fullmatch(_COMMA).to_numpy(dtype=bool)
        if self.mark is None:
            only_point, only_comma = point & ~comma, comma & ~point
            if only_point.any() and only_comma.any():
                a, b = text[only_point].iloc[0], text[only_comma].iloc[0]
                raise CsvError(
                    f"numbers with decimal points ({a!r}) and decimal commas ({b!r}) in one file"
                )
            if only_point.any() or only_comma.any():
                self.mark = "." if only_point.any() else ","
            else:
                unsure = point & comma & text.str.contains(r"[.,]", regex=True).to_numpy(dtype=bool)
                if unsure.any():
                    i = int(np.argmax(unsure))
                    raise _at(
                        text.index[i],
                        f"{col} {text.iloc[i]!r}: cannot tell a decimal comma from a thousands "
                        "separator in this file; write numbers with a decimal point",
                    )
                return pd.to_numeric(text).to_numpy(dtype=float)  # integers only: same either way
        ok = point if self.mark == "." else comma
        if not ok.all():
            i = int(np.argmin(ok))
            kind = "a decimal point" if self.mark == "." else "a decimal comma"
            raise _at(
                text.index[i],
                f"non-numeric {col} {text.iloc[i]!r} (this file writes numbers with {kind})",
            )
        if self.mark == ".":
            clean = text.str.replace(",", "", regex=False)
        else:
            clean = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        return pd.to_numeric(clean).to_numpy(dtype=float)


def _numbers(series: pd.Series, col: str, decimals: _Decimals) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=float)
    text = series.astype(str).str.strip()
    null = (text.str.lower().isin(_NULLS) | series.isna()).to_numpy()
    out = np.full(len(series), np.nan)
    if (~null).any():
        out[~null] = decimals.parse(text[~null], col)
    return out


# a file name's interval suffix (AAPL_1h.csv, msft_60m.csv, IBM_daily.csv): not the symbol
_INTERVAL = re.compile(r"\d+ ?(m|min|h|hr|hour|d|day)|h|d|hourly|daily|intraday", re.IGNORECASE)


def _symbol_from_name(path: Path) -> str:
    stem = path.name.rsplit(".", 1)[0] if path.suffix.lower() in (".csv", ".txt") else path.name
    head, _, tail = stem.rpartition("_")
    if head and _INTERVAL.fullmatch(tail):
        stem = head
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
    data: bytes | BinaryIO,
    *,
    name: str = "data.csv",
    symbol: str | None = None,
    encoding: str = UTF8,
    times: bool = False,
) -> list[tuple[str, pd.DataFrame]]:
    """Parse one file (bytes or a seekable binary handle) into (symbol, raw frame) pairs,
    before validation. `times`: the date column holds bar times (hourly bars), kept with
    their time of day; naive ones stay naive, ones with a UTC offset become UTC. The body is read in chunks of CHUNK_ROWS lines, each turned into
    numbers at once, so memory follows the rows kept, not the text. The raw frame's `line`
    column is each row's line number in the file, for error messages."""
    handle: BinaryIO = io.BytesIO(data) if isinstance(data, bytes) else data
    lines = _head(handle, encoding).splitlines()
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
    names = [_canon(c) for c in cells]
    if times:  # a bar's time of day in a column of its own (Stooq's, MetaTrader's Date,Time)
        names = [n or ("time" if _is_time(c) else "") for n, c in zip(names, cells, strict=True)]
    missing = [n for n in ("date", "open", "high", "low", "close") if n not in names]
    if missing:
        raise CsvError(
            f"missing column(s) {', '.join(missing)} (found: {', '.join(c for c in cells if c)})"
        )
    usecols = [i for i, n in enumerate(names) if n and names.index(n) == i]
    text_cols = {"date", "time", "ticker", "per"}
    # Outside comma-separated files every number is read as text: "1.234" may be 1234.
    dtypes = {i: str for i in usecols if names[i] in text_cols or sep != ","}
    handle.seek(0)
    decimals = _Decimals(sep)
    first_line = 2 + len(skip)  # line number of the first data row (1-based)
    parts: dict[str, list[np.ndarray]] = {}
    tickers: dict[str, int] = {}
    formats: list[str] | None = None
    aware: bool | None = None
    seen = 0
    try:
        reader = pd.read_csv(
            handle,
            sep=sep,
            header=None,
            skiprows=[0, *skip],
            usecols=usecols,
            dtype=dtypes,
            encoding=encoding,
            skipinitialspace=True,
            skip_blank_lines=False,  # keeps row i on line first_line + i
            chunksize=CHUNK_ROWS,
        )
        for chunk in reader:
            chunk.columns = [names[i] for i in usecols]
            chunk.index = pd.RangeIndex(first_line + seen, first_line + seen + len(chunk))
            seen += len(chunk)
            chunk = chunk[chunk["date"].notna()]
            if chunk.empty:
                continue
            if "per" in chunk.columns and not times:  # each distinct cell once, not each row
                periods = {str(p).strip().upper() for p in pd.unique(chunk["per"].to_numpy())}
                if periods - {"D"}:
                    raise CsvError(f"not daily data (period {', '.join(sorted(periods - {'D'}))})")
            if times:
                if "time" in chunk.columns:
                    chunk["date"] = (
                        chunk["date"].astype(str).str.strip()
                        + " "
                        + chunk["time"].astype(str).str.strip()
                    )
                dates, chunk_aware = _parse_times(chunk["date"])
                if aware is not None and chunk_aware != aware:
                    raise CsvError("some times in this file give their UTC offset and some do not")
                aware = chunk_aware
            else:
                dates, formats = _parse_dates(chunk["date"], formats)
            cols = {c: _numbers(chunk[c], c, decimals) for c in chunk.columns if c not in text_cols}
            keep = ~np.isnan(np.column_stack([cols[c] for c in PRICE_COLUMNS])).all(axis=1)
            # Yahoo writes rows of "null" for sessions without trades: nothing to store.
            parts.setdefault("date", []).append(dates.to_numpy()[keep])
            parts.setdefault("line", []).append(chunk.index.to_numpy()[keep])
            for c, v in cols.items():
                parts.setdefault(c, []).append(v[keep])
            if "ticker" in chunk.columns:  # each distinct ticker named once, not each row
                local, cells = pd.factorize(chunk["ticker"].to_numpy()[keep], use_na_sentinel=False)
                named = [tickers.setdefault(_stooq_symbol(str(t)), len(tickers)) for t in cells]
                parts.setdefault("ticker", []).append(np.asarray(named, dtype=np.int32)[local])
    except UnicodeDecodeError as exc:
        raise _not_text(encoding, exc.reason) from None
    except pd.errors.EmptyDataError:
        raise CsvError("the file has a header but no rows") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise CsvError(f"not a readable CSV table ({str(exc).splitlines()[0]})") from None
    if not seen:
        raise CsvError("the file has a header but no rows")
    if not parts:
        raise CsvError("no rows with prices")
    # Column by column, each chunk list dropped once joined (and, in a file of many
    # tickers, put in ticker order as it is joined): one copy of the rows at a time.
    ids = np.concatenate(parts.pop("ticker")) if "ticker" in parts else None
    order = None
    if ids is not None and symbol is None and (np.diff(ids) < 0).any():
        order = np.argsort(ids, kind="stable")  # rows grouped by ticker, file order within
        ids = ids[order]

    def joined(column: str) -> np.ndarray:
        values = np.concatenate(parts.pop(column))
        values = values if order is None else values[order]
        _give_back_freed()
        return values

    dates = pd.DatetimeIndex(joined("date"), copy=False)
    if aware:
        dates = dates.tz_localize("UTC")
    # copy=False: each joined column becomes the frame's own (no second copy of 2M rows)
    raw = pd.DataFrame({c: joined(c) for c in list(parts)}, index=dates, copy=False)
    if "adj_close" not in raw.columns and "Dividends" in cells and "Stock Splits" in cells:
        # yfinance history(): prices already adjusted (auto_adjust); its event columns are info only.
        raw = raw.drop(columns=["dividend", "split"])
        raw.attrs["adjusted"] = True
    if symbol is not None:
        return [(validate_symbol(symbol), raw)]
    if ids is not None:
        attrs = dict(raw.attrs)
        edges = np.searchsorted(ids, np.arange(len(tickers) + 1, dtype=ids.dtype))
        out = []
        for tick, code in tickers.items():
            try:
                sym = validate_symbol(tick)
            except SymbolError as exc:
                raise CsvError(f"ticker column: {exc}") from None
            part = raw.iloc[edges[code] : edges[code + 1]]  # a view, not a copy
            part.attrs = dict(attrs)
            out.append((sym, part))
        return out
    if file_ticker:
        return [(validate_symbol(file_ticker), raw)]
    return [(_symbol_from_name(Path(name)), raw)]


def _give_back_freed() -> None:
    """Return the heap pages freed so far to the system (glibc keeps the chunks' freed
    arrays otherwise, and a 2M-row file's joined columns would come on top of them)."""
    try:
        _LIBC.malloc_trim(0)
    except AttributeError:  # not glibc: nothing to do
        pass


try:
    _LIBC: Any = ctypes.CDLL(None)
except (OSError, TypeError):  # pragma: no cover - no C library to load (Windows: TypeError)
    _LIBC = None


class _Capped(io.RawIOBase):
    """A file read through a byte limit (a file that grows while it is read stops there)."""

    def __init__(self, fd: int, limit: int):
        self.file = io.FileIO(fd, "rb", closefd=True)
        self.limit, self.done = limit, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.done = self.file.seek(offset, whence)
        return self.done

    def tell(self) -> int:
        return self.done

    def readinto(self, buffer: WriteableBuffer) -> int:
        n = self.file.readinto(buffer) or 0
        self.done += n
        if self.done > self.limit:
            raise CsvError(_too_big(self.done))
        return n

    def close(self) -> None:
        self.file.close()
        super().close()


def _too_big(size: int) -> str:
    return (
        f"larger than {MAX_FILE_BYTES >> 20} MiB ({size / 2**20:,.0f} MiB read); "
        "split it into smaller files"
    )


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading, or refuse: a FIFO, a device or a socket would block
    or never end. O_NONBLOCK: opening a FIFO does not wait for a writer (it is refused
    after fstat); a regular file ignores the flag."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except IsADirectoryError:
        raise CsvError("is a directory, not a file") from None
    except OSError as exc:
        raise CsvError(f"cannot read it ({exc.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise CsvError("is a directory, not a file")
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(info.st_mode)
            else (
                "a device"
                if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                else "a socket"
            )
        )
        raise CsvError(f"is {kind}, not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        os.close(fd)
        raise CsvError(_too_big(info.st_size))
    os.set_blocking(fd, True)
    return io.BufferedReader(_Capped(fd, MAX_FILE_BYTES), buffer_size=1 << 20)


def load_file(
    path: Path,
    *,
    symbol: str | None = None,
    jump_threshold: float = 0.25,
    exchange: str = "XNYS",
    now: pd.Timestamp | None = None,
    encoding: str = UTF8,
) -> list[tuple[str, pd.DataFrame]]:
    """Read and validate one file: (symbol, normalized frame) pairs, or CsvError/ValidationError.

    `exchange`: the calendar of symbols without an exchange suffix; no bar may be dated
    after the session following `now`'s (default: the real time)."""
    raws = read_file(path, symbol=symbol, encoding=encoding)
    return list(validated(raws, jump_threshold=jump_threshold, exchange=exchange, now=now))


def read_file(
    path: Path, *, symbol: str | None = None, encoding: str = UTF8
) -> list[tuple[str, pd.DataFrame]]:
    """Parse one file into (symbol, raw frame) pairs (`read_raw`), or CsvError."""
    path = Path(path)
    with open_regular(path) as handle:
        return read_raw(handle, name=path.name, symbol=symbol, encoding=encoding)


def validated(
    raws: list[tuple[str, pd.DataFrame]],
    *,
    jump_threshold: float = 0.25,
    exchange: str = "XNYS",
    now: pd.Timestamp | None = None,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """Each raw frame of `raws` validated in turn (taken from the list as it goes), or
    CsvError at the first that fails: a caller writing each as it comes holds one
    normalized frame at a time, not the whole file's."""
    many = len(raws) > 1
    raws.reverse()
    latest: dict[str, pd.Timestamp] = {}  # per calendar, not per symbol (~1 ms each)
    while raws:
        sym, raw = raws.pop()
        ex = calendar.exchange_for(sym, exchange)
        if ex not in latest:
            latest[ex] = calendar.latest_session(ex, now)
        try:
            frame = validate(
                raw,
                jump_threshold=jump_threshold,
                adjusted=raw.attrs.get("adjusted", False),
                latest=latest[ex],
            )
        except ValidationError as exc:
            raise CsvError(f"{sym}: {exc}" if many else str(exc)) from None
        del raw
        yield sym, frame


def load_hourly_file(
    path: Path,
    *,
    symbol: str | None = None,
    exchange: str = "XNYS",
    now: pd.Timestamp | None = None,
    encoding: str = UTF8,
) -> list[tuple[str, pd.DataFrame]]:
    """Read and validate one file of one-hour bars: (symbol, `store.hourly` frame) pairs,
    or CsvError. Times without a UTC offset are the exchange's local time; times with one
    are converted to it. Prices are taken as given (as traded: an adjusted-close column is
    ignored). Every refusal of `validate_hourly` applies, by file line."""
    path = Path(path)
    with open_regular(path) as handle:
        raws = read_raw(handle, name=path.name, symbol=symbol, encoding=encoding, times=True)
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    out: list[tuple[str, pd.DataFrame]] = []
    many = len(raws) > 1
    for sym, raw in raws:
        ex = calendar.exchange_for(sym, exchange)
        tz = calendar.exchange_tz(ex)
        frame = raw[[c for c in ("open", "high", "low", "close", "volume", "line") if c in raw]]
        index = pd.DatetimeIndex(frame.index)
        try:
            if index.tz is None:
                index = index.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
                if index.hasnans:
                    i = int(np.argmax(index.isna()))
                    raise CsvError(
                        f"line {int(frame['line'].iloc[i])}: {raw.index[i]:%Y-%m-%d %H:%M} "
                        f"does not exist or is ambiguous in {tz} (a clock change); give its "
                        "UTC offset"
                    )
            frame = frame.set_axis(index.tz_convert(tz))
            out.append((sym, validate_hourly(frame, ex, now=now)))
        except ValidationError as exc:
            raise CsvError(f"{sym}: {exc}" if many else str(exc)) from None
    return out


class CsvSource:
    """A folder of CSV files, one symbol per file (named as `import` expects)."""

    name = "csv"

    def __init__(self, folder: Path, *, jump_threshold: float = 0.25, exchange: str = "XNYS"):
        self.folder = Path(folder)
        self.jump_threshold = jump_threshold
        self.exchange = exchange

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
        frames = dict(
            load_file(
                path, symbol=symbol, jump_threshold=self.jump_threshold, exchange=self.exchange
            )
        )
        part = frames[symbol].loc[pd.Timestamp(start) : pd.Timestamp(end)]
        if part.empty:
            raise NoDataError(f"{path.name} has no bars for {symbol} in that range")
        return part
