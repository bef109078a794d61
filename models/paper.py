"""A paper account: the calls turned into positions, filled at the next open, with costs.

One code path for the walk-forward backtest, the daemon and the benchmark. A *decision* is
made after the close of session d (with what was known then: that session's calls and the
volatility forecast made from bars up to d); its orders are filled at the OPEN of the next
session of the price panel, never at a price the decision knew. Each session of an account
is one `step`: fill the pending orders at the open, then mark to market at the close.

The rules (`Rules`, the `[paper]` settings):

- **Policy** — which way to hold each symbol. `volatility` (the default) is what the product
  has measured to be right: always long every symbol with a volatility forecast, exposure
  scaled by that forecast (volatility-managed, Moreira & Muir 2017), tilted across symbols
  by the ranking model's scores only when the caller passes them, which it does only when
  the ranking passed its verdict (`models.scorecard.judged`; see `tilted`). `calls` follows
  the directional calls of one horizon (UP long; DOWN short when `long_short`, else flat;
  FLAT / no call: flat), `hold` is the benchmark (equal weight bought at the first open and
  never rebalanced), `long` is always long under the same sizing (the `volatility` policy
  without its tilt). `ranking` holds the top `top_n` symbols of a score column (the
  relative-ranking model's, when it exists); see `directions`.
- **Sizing** — a volatility target: a symbol's weight is min(cap, target / σ / N), where σ
  is the symbol's own annualized volatility forecast (`models.volatility`), N the number of
  symbols in the account, `cap` the per-symbol limit; the gross weight never exceeds
  `max_exposure` (at most 1: no leverage). A position is traded back to its target only when
  it is `band` or more away from it, or its direction changes (so a tiny forecast change
  does not pay costs).
- **Costs** — `cost_bps` per side plus `slippage_bps`, both charged on the traded notional
  at the fill.
- **Stale holdings** — a held symbol with no bar for a session cannot be traded (no open to
  fill at) and is valued at its last close. The account counts the sessions it has gone
  without one (`Account.missing`): after `STALE_AFTER_SESSIONS` it is *stale* (flagged by
  the CLI, the dashboard and the alerts; no order can add to it, having no open), and after
  `stale_exit_sessions` (default 20, about a month; 0: never) it is closed at that last
  close, with costs, as a fill and a round trip like any other. A halt or a data gap of a
  few sessions does not sell anything; a symbol that stopped trading does not stay a
  quarter of the equity at a months-old price for good. The last close is the best price a
  delisted holding can fetch (delisting returns are often far below it): the account's
  figures after a stale exit are an upper bound, and docs/long-work.md says so.

A *trade* in the report is a round trip: a position opened in one direction and closed (or
reversed); it hits when the price moved its way between the fill that opened it and the
fill that closed it (an unchanged price is a miss, as for a call). Trades still open at the
end are counted but not scored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

import numpy as np
import pandas as pd

from models import metrics, outcomes
from vocab.dates import session_text
from vocab.scoring import STALE_AFTER_SESSIONS

SESSIONS_PER_YEAR = 252
POLICIES = ("volatility", "calls", "hold", "long", "ranking")


@dataclass(frozen=True)
class Rules:
    cash: float = 100_000.0
    policy: str = "volatility"
    horizon: int = 1
    long_short: bool = False
    # annualized volatility a full (1/N) position is sized to; it, max_weight, max_exposure
    # and band: chosen on validation years only (bench/bench_paper.py, docs/paper.md)
    vol_target: float = 0.15
    max_weight: float = 0.25  # per symbol, as a fraction of equity
    max_exposure: float = 0.8  # gross weight at most this (no leverage: at most 1)
    tilt: float = 0.5  # `volatility`: how far the ranking tilts the weights (when it may)
    band: float = 0.02  # trade back to target only when this far off (fraction of equity)
    cost_bps: float = 5.0  # per side
    slippage_bps: float = 2.0  # per side
    top_n: int = 1  # `ranking`: how many of the top-scored symbols to hold
    stale_exit_sessions: int = 20  # close a holding this many sessions without a bar (0: never)

    @property
    def cost_rate(self) -> float:
        return (self.cost_bps + self.slippage_bps) / 1e4


# ------------------------------------------------------------------ what to hold


def directions(policy: str, rows: pd.DataFrame, long_short: bool, top_n: int = 1) -> pd.Series:
    """Per symbol, -1/0/+1 from one decision's rows (index: symbol; columns `call`, and
    `score` for `ranking`). `hold` is not a direction rule (it never rebalances)."""
    if policy == "calls":
        calls = rows["call"].astype(str).str.lower().to_numpy(object)
        return pd.Series(call_directions(calls, long_short), rows.index)
    if policy in ("long", "volatility"):
        return pd.Series(1, rows.index)
    if policy == "ranking":
        # the hook for the relative-ranking model: any per-symbol score, higher = better
        if "score" not in rows or rows["score"].isna().all():
            raise ValueError("the ranking policy needs a per-symbol score (no ranking model yet)")
        top = rows["score"].rank(ascending=False, method="first") <= top_n
        bottom = rows["score"].rank(ascending=True, method="first") <= top_n
        out = np.where(top, 1, np.where(bottom & long_short, -1, 0))
        return pd.Series(out, rows.index)
    raise ValueError(f"unknown paper policy {policy!r} (one of {', '.join(POLICIES)})")


def call_directions(calls: np.ndarray, long_short: bool) -> np.ndarray:
    """-1/0/+1 per call ('up' / 'down' / 'flat', any shape): DOWN is flat when long-only."""
    sign = outcomes.call_sign(calls)
    return np.where(sign < 0, -1 if long_short else 0, sign)


def weights(direction: np.ndarray, sigma: np.ndarray, rules: Rules, n_symbols: int) -> np.ndarray:
    """The volatility-target weights (see the module docstring) for arrays whose last axis
    is the symbols (one decision, or one row per decision date); a symbol without a usable
    forecast gets no position."""
    sig = np.asarray(sigma, dtype=float)
    ok = np.isfinite(sig) & (sig > 0)
    size = np.where(ok, rules.vol_target / np.where(ok, sig, 1.0), 0.0) / max(n_symbols, 1)
    w = np.asarray(direction, dtype=float) * np.minimum(size, rules.max_weight)
    return _capped(w, rules.max_exposure)


def _capped(w: np.ndarray, exposure: float) -> np.ndarray:
    """w scaled down (never up) so that its gross weight is at most `exposure` (and 1)."""
    cap = min(exposure, 1.0)
    gross = np.abs(w).sum(axis=-1, keepdims=True)
    return np.where(gross > cap, w * cap / np.maximum(gross, 1e-300), w)


def tilted(w: np.ndarray, scores: np.ndarray, rules: Rules) -> np.ndarray:
    """The cross-sectional tilt of long weights (last axis: symbols): each weight times
    1 + tilt x c, c the symbol's score rank centred to [-1, 1] (best +1, worst -1), then
    rescaled to the untilted gross, capped per symbol at `max_weight` and in gross at
    `max_exposure`. The exposure stays what the volatility forecast set; only its split
    across symbols moves. Symbols without a score (or fewer than two scored) keep their
    weight. Only for a ranking that passed its verdict: the caller decides that."""
    shape = np.shape(w)
    w = np.atleast_2d(np.asarray(w, dtype=float))
    s = pd.DataFrame(np.atleast_2d(np.asarray(scores, dtype=float)))
    n = s.notna().sum(axis=1).to_numpy()[:, None]
    rank = s.rank(axis=1, method="average").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.nan_to_num(np.where(n > 1, 2 * (rank - 1) / (n - 1) - 1, 0.0), nan=0.0)
    out = w * (1 + rules.tilt * c)
    gross = np.abs(w).sum(axis=-1, keepdims=True)
    now = np.abs(out).sum(axis=-1, keepdims=True)
    out = np.where(now > 0, out * gross / np.maximum(now, 1e-300), out)
    out = np.sign(out) * np.minimum(np.abs(out), rules.max_weight)
    return _capped(out, rules.max_exposure).reshape(shape)


def target_weights(
    direction: pd.Series,
    sigma_annual: pd.Series,
    rules: Rules,
    n_symbols: int,
    tilt_scores: pd.Series | None = None,
) -> dict[str, float]:
    """`weights` for one decision, by symbol; `tilted` by `tilt_scores` when given (only
    for the `volatility` policy, and only when the ranking passed its verdict)."""
    sig = sigma_annual.reindex(direction.index).astype(float).to_numpy()
    w = weights(direction.to_numpy(float), sig, rules, n_symbols)
    if tilt_scores is not None and rules.policy == "volatility":
        w = tilted(w, tilt_scores.reindex(direction.index).astype(float).to_numpy(), rules)
    return {str(s): float(x) for s, x in zip(direction.index, w, strict=True)}


def hold_weights(symbols: list[str]) -> dict[str, float]:
    """The benchmark: equal weight, all in."""
    return {s: 1.0 / len(symbols) for s in symbols} if symbols else {}


# ------------------------------------------------------------------ the account


@dataclass
class Position:
    shares: float
    entry_price: float  # the fill that opened this direction
    entry_date: str


class PositionState(TypedDict):
    shares: float
    entry_price: float
    entry_date: str


class AccountState(TypedDict):
    """An account as JSON (what the daemon's ledger stores per book and session)."""

    cash: float
    positions: dict[str, PositionState]
    last: dict[str, float]
    missing: NotRequired[
        dict[str, int]
    ]  # held symbols: sessions in a row without a bar (absent: none)


class Fill(TypedDict):
    date: str
    symbol: str
    shares: float  # signed: bought > 0, sold < 0
    price: float
    cost: float


class Trip(TypedDict):
    """A round trip: a direction opened at one fill and closed (or reversed) at another."""

    symbol: str
    side: str  # long | short
    entry_date: str
    entry_price: float
    exit_date: str
    exit_price: float
    hit: bool


@dataclass
class Account:
    """Cash, positions and the last known price of each symbol (what marks a symbol that
    has no bar on a session), and per held symbol how many sessions in a row it has had no
    bar (`missing`; see "Stale holdings" above)."""

    cash: float
    positions: dict[str, Position] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)

    def stale(self) -> dict[str, int]:
        """The held symbols gone stale: sessions without a bar, by symbol."""
        return {s: n for s, n in self.missing.items() if n > STALE_AFTER_SESSIONS}

    def equity(self, prices: Mapping[str, float]) -> float:
        return self.cash + sum(
            p.shares * _price(prices, self.last, s) for s, p in self.positions.items()
        )

    def to_dict(self) -> AccountState:
        return {
            "cash": self.cash,
            "positions": {
                s: {"shares": p.shares, "entry_price": p.entry_price, "entry_date": p.entry_date}
                for s, p in self.positions.items()
            },
            "last": dict(self.last),
            "missing": dict(self.missing),
        }

    @classmethod
    def from_dict(cls, d: AccountState) -> Account:
        return cls(
            float(d["cash"]),
            {s: Position(**p) for s, p in d.get("positions", {}).items()},
            {s: float(v) for s, v in d.get("last", {}).items()},
            {s: int(v) for s, v in d.get("missing", {}).items()},
        )


def _price(prices: Mapping[str, float], last: Mapping[str, float], s: str) -> float:
    v = prices.get(s)
    return float(v) if v is not None and np.isfinite(v) else float(last.get(s, 0.0))


@dataclass
class Day:
    """One session of an account: what was filled at the open, the equity at the close."""

    date: str
    equity: float
    costs: float
    traded: float  # notional bought + sold
    fills: list[Fill]
    trips: list[Trip]  # round trips closed this session
    stale_exits: list[str] = field(default_factory=list)  # closed at their last close


def _trip(symbol: str, pos: Position, date: str, price: float) -> Trip:
    """The round trip a position ends by being closed (or reversed) at `price` on `date`: a
    hit when the price moved its way since the fill that opened it."""
    move = (price - pos.entry_price) * np.sign(pos.shares)
    return {
        "symbol": symbol,
        "side": "long" if pos.shares > 0 else "short",
        "entry_date": pos.entry_date,
        "entry_price": pos.entry_price,
        "exit_date": date,
        "exit_price": price,
        "hit": bool(move > 0),
    }


def step(
    account: Account,
    date: str,
    opens: Mapping[str, float],
    closes: Mapping[str, float],
    targets: Mapping[str, float] | None,
    rules: Rules,
) -> Day:
    """Fill `targets` (weights decided after the previous session's close; None: no
    decision) at this session's opens, then mark to market at its closes. Mutates `account`.
    A symbol without an open this session is not traded (its order lapses); a held symbol
    without a close counts one more session missing, and one missing for
    `rules.stale_exit_sessions` is closed at its last close (see "Stale holdings")."""
    fills: list[Fill] = []
    trips: list[Trip] = []
    costs = traded = 0.0
    if targets is not None:
        equity = account.equity(opens)
        for s in sorted(set(targets) | set(account.positions)):
            price = opens.get(s)
            if price is None or not np.isfinite(price) or price <= 0:
                continue
            pos = account.positions.get(s)
            have = pos.shares if pos else 0.0
            want_w = float(targets.get(s, 0.0))
            have_w = have * price / equity if equity > 0 else 0.0
            flip = np.sign(want_w) != np.sign(have_w)
            if not flip and abs(want_w - have_w) < rules.band:
                continue
            want = want_w * equity / price if equity > 0 else 0.0
            delta = want - have
            if delta == 0:
                continue
            notional = abs(delta) * price
            cost = notional * rules.cost_rate
            account.cash -= delta * price + cost
            costs += cost
            traded += notional
            fills.append({"date": date, "symbol": s, "shares": delta, "price": price, "cost": cost})
            if pos and flip:  # the old direction's round trip ends here
                trips.append(_trip(s, pos, date, price))
            if want == 0:
                account.positions.pop(s, None)
            elif pos and not flip:
                pos.shares = want
            else:
                account.positions[s] = Position(want, price, date)
    for s, v in closes.items():
        if v is not None and np.isfinite(v) and v > 0:
            account.last[s] = float(v)
    exits = _count_missing(account, closes, rules)
    for s in exits:
        pos = account.positions.pop(s)
        price = account.last[s]
        notional = abs(pos.shares) * price
        cost = notional * rules.cost_rate
        account.cash += pos.shares * price - cost
        costs += cost
        traded += notional
        fills.append(
            {"date": date, "symbol": s, "shares": -pos.shares, "price": price, "cost": cost}
        )
        trips.append(_trip(s, pos, date, price))
        account.missing.pop(s, None)
    return Day(date, account.equity(closes), costs, traded, fills, trips, exits)


def _count_missing(account: Account, closes: Mapping[str, float], rules: Rules) -> list[str]:
    """Count one more session without a bar for each held symbol that has no close, reset
    those that have one; the held symbols due to be closed at their last close."""
    for s in list(account.missing):
        if s not in account.positions:
            del account.missing[s]
    due = []
    for s in sorted(account.positions):
        v = closes.get(s)
        if v is not None and np.isfinite(v) and v > 0:
            account.missing.pop(s, None)
            continue
        account.missing[s] = account.missing.get(s, 0) + 1
        limit = rules.stale_exit_sessions
        if limit > 0 and account.missing[s] >= limit and s in account.last:
            due.append(s)
    return due


# ------------------------------------------------------------------ a whole history


@dataclass
class Book:
    """One account over a history: the daily equity curve (at closes), fills and trips."""

    name: str
    equity: pd.Series  # indexed by session date, starts with the cash before the first fill
    costs: float
    traded: float
    # `Fill` and `Trip` rows as `run` makes them; a book read back from the daemon's ledger
    # holds its stored rows (sessions named as the ledger names them; `hit` as in `Trip`)
    fills: Sequence[Mapping[str, object]]
    trips: Sequence[Mapping[str, object]]
    open_trips: int
    account: Account


def run(
    name: str,
    opens: pd.DataFrame,
    closes: pd.DataFrame,
    decisions: Mapping[pd.Timestamp, Mapping[str, float]],
    rules: Rules,
) -> Book:
    """Replay an account over the sessions of the price panel (date x symbol). `decisions`
    maps a decision date to target weights; each is filled at the open of the first panel
    session strictly after its date (a later decision before that open replaces it)."""
    account = Account(rules.cash)
    dates = pd.DatetimeIndex(opens.index)
    pending: Mapping[str, float] | None = None
    todo = sorted(decisions)
    k = 0
    curve: dict[pd.Timestamp, float] = {}
    costs = traded = 0.0
    fills: list[Fill] = []
    trips: list[Trip] = []
    names = [str(s) for s in opens.columns]
    o_rows = opens[list(opens.columns)].to_numpy(float)
    c_rows = closes[list(opens.columns)].to_numpy(float)
    for i, day in enumerate(dates):
        while k < len(todo) and todo[k] < day:  # decided after an earlier close
            pending = decisions[todo[k]]
            k += 1
        if i == 0:
            curve[day - pd.Timedelta(days=1)] = rules.cash  # the start, before any fill
        o = dict(zip(names, o_rows[i].tolist(), strict=True))
        c = dict(zip(names, c_rows[i].tolist(), strict=True))
        d = step(account, session_text(day), o, c, pending, rules)
        pending = None
        curve[day] = d.equity
        costs += d.costs
        traded += d.traded
        fills += d.fills
        trips += d.trips
    return Book(
        name,
        pd.Series(curve, dtype=float),
        costs,
        traded,
        fills,
        trips,
        len(account.positions),
        account,
    )


def decisions_from_calls(
    calls: pd.DataFrame,
    sigma: pd.DataFrame,
    rules: Rules,
    symbols: list[str],
    tilt: bool = False,
) -> dict[pd.Timestamp, dict[str, float]]:
    """Target weights per decision date from ledger-shaped calls of `rules.horizon`
    (columns as_of, symbol, call, horizon, optional score) and the annualized volatility
    forecast known at each date (sigma: date x symbol). `rules.policy` must not be `hold`.
    `tilt`: the `volatility` policy tilts by the `score` column (a ranking that passed)."""
    mine = calls[calls["horizon"] == rules.horizon] if "horizon" in calls else calls
    out: dict[pd.Timestamp, dict[str, float]] = {}
    for day, rows in mine.groupby(pd.to_datetime(mine["as_of"])):
        rows = rows.drop_duplicates("symbol", keep="last").set_index("symbol")
        rows = rows.reindex([s for s in symbols if s in rows.index])
        d = directions(rules.policy, rows, rules.long_short, rules.top_n)
        sig = sigma.loc[day] if day in sigma.index else pd.Series(dtype=float)
        assert isinstance(sig, pd.Series)  # one row: the index holds each date once
        scores = rows["score"] if tilt and "score" in rows else None
        out[pd.Timestamp(day)] = target_weights(d, sig, rules, len(symbols), scores)
    return out


def compare(
    opens: pd.DataFrame,
    closes: pd.DataFrame,
    calls: pd.DataFrame,
    sigma: pd.DataFrame,
    rules: Rules,
    tilt: bool = False,
) -> dict[str, Book]:
    """The policy's book next to buy-and-hold (equal weight) and always-long (the same
    sizing, no tilt), all under the same costs, over the sessions after the first decision.
    `tilt`: see `decisions_from_calls`."""
    symbols = [str(s) for s in opens.columns]
    days = sorted(pd.to_datetime(calls["as_of"]).unique())
    if not days:
        raise ValueError("no calls to follow")
    first = pd.Timestamp(days[0])
    live = opens.index > first
    o, c = opens.loc[live], closes.loc[live]
    books = {}
    if rules.policy != "hold":
        books["paper"] = run(
            "paper", o, c, decisions_from_calls(calls, sigma, rules, symbols, tilt), rules
        )
    books["hold"] = run("hold", o, c, {first: hold_weights(symbols)}, rules)
    always = dataclasses.replace(rules, policy="long")
    books["long"] = run("long", o, c, decisions_from_calls(calls, sigma, always, symbols), rules)
    return books


# ------------------------------------------------------------------ the report


def daily_returns(equity: pd.Series) -> pd.Series:
    return equity.pct_change().iloc[1:]


def max_drawdown(equity: pd.Series) -> float:
    """Largest peak-to-trough loss of the equity curve, as a fraction of the peak."""
    e = equity.to_numpy(float)
    if len(e) == 0:
        return 0.0
    peak = np.maximum.accumulate(e)
    return float(np.max(1 - e / peak))


def drawdown(equity: pd.Series) -> pd.Series:
    return 1 - equity / equity.cummax()


def summary(book: Book, against: Book | None = None) -> dict[str, str | int | float | None]:
    """Total and annualized return, volatility, Sharpe (no risk-free rate), max drawdown,
    turnover (one-way, per year, in multiples of the mean equity), costs paid, trades and
    their hit rate; with `against`, the mean daily return difference and its one-sided
    paired p-value (`models.metrics.paired_p`, the test the product uses for hits)."""
    r = daily_returns(book.equity)
    n = len(r)
    start, end = float(book.equity.iloc[0]), float(book.equity.iloc[-1])
    years = n / SESSIONS_PER_YEAR
    vol = float(r.std(ddof=1) * np.sqrt(SESSIONS_PER_YEAR)) if n > 1 else None
    mean = float(r.mean()) if n else None
    scored = [bool(t["hit"]) for t in book.trips]
    out: dict[str, str | int | float | None] = {
        "book": book.name,
        "from": str(book.equity.index[1].date()) if n else None,
        "to": str(book.equity.index[-1].date()) if n else None,
        "sessions": n,
        "start_equity": start,
        "end_equity": end,
        "total_return": end / start - 1,
        "annual_return": (end / start) ** (1 / years) - 1 if years > 0 and end > 0 else None,
        "volatility": vol,
        "sharpe": mean * SESSIONS_PER_YEAR / vol if vol and mean is not None else None,
        "sortino": sortino(r.to_numpy(float)),
        "max_drawdown": max_drawdown(book.equity),
        "turnover": book.traded / 2 / float(book.equity.mean()) / years if years > 0 else None,
        "costs": book.costs,
        "trades": len(book.trips) + book.open_trips,
        "trades_closed": len(scored),
        "hit_rate": float(np.mean(scored)) if scored else None,
    }
    if against is not None:
        other = daily_returns(against.equity).reindex(r.index)
        diff = (r - other).to_numpy(float)
        out["vs"] = against.name
        out["mean_daily_diff"] = float(np.nanmean(diff)) if n else None
        out["p_value"] = metrics.paired_p(r.to_numpy(float), other.to_numpy(float), None, 1)
    return out


def sortino(r: np.ndarray) -> float | None:
    """Annualized mean daily return over the downside deviation (root mean square of the
    negative daily returns, zero target); None without a losing day."""
    r = r[np.isfinite(r)]
    down = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))) if len(r) else 0.0
    return float(r.mean() * np.sqrt(SESSIONS_PER_YEAR) / down) if down > 0 else None


def _sharpe(r: np.ndarray) -> np.ndarray:
    """Annualized Sharpe of each row of r (sessions along the last axis)."""
    sd = r.std(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, r.mean(axis=-1) / sd * np.sqrt(SESSIONS_PER_YEAR), np.nan)


SHARPE_BLOCK = 21  # sessions: a month of returns resampled together
SHARPE_DRAWS = 2000


def sharpe_test(
    a: np.ndarray, b: np.ndarray, *, seed: int = 0
) -> tuple[float | None, float | None]:
    """(Sharpe of a minus Sharpe of b, one-sided p-value that a's Sharpe is higher) from a
    circular block bootstrap of the paired daily returns (blocks of a month, so volatility
    clustering and autocorrelation travel with the returns): p is the share of resampled
    differences, centred on the observed one, at or beyond it. Deterministic (seeded)."""
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = len(a)
    if n < 2 * SHARPE_BLOCK:
        return None, None
    diff = float(_sharpe(a) - _sharpe(b))
    if not np.isfinite(diff):
        return None, None
    rng = np.random.default_rng(seed)
    blocks = -(-n // SHARPE_BLOCK)
    starts = rng.integers(0, n, size=(SHARPE_DRAWS, blocks))
    idx = (starts[:, :, None] + np.arange(SHARPE_BLOCK)).reshape(SHARPE_DRAWS, -1)[:, :n] % n
    draws = _sharpe(a[idx]) - _sharpe(b[idx])
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return diff, None
    p = float(np.mean(draws - diff >= diff))
    return diff, float(f"{max(p, 1 / len(draws)):.3g}")


def report(books: Mapping[str, Book]) -> list[dict[str, str | int | float | None]]:
    """Every book's summary; the policy's tested against buy-and-hold and always-long: mean
    daily return (paired Newey-West) and Sharpe (block bootstrap, `sharpe_test`)."""
    rows = []
    for name, book in books.items():
        rows.append(summary(book))
        if name == "paper":
            mine = daily_returns(book.equity)
            for other in ("hold", "long"):
                if other in books:
                    t = summary(book, books[other])
                    rows[-1][f"p_vs_{other}"] = t["p_value"]
                    rows[-1][f"diff_vs_{other}"] = t["mean_daily_diff"]
                    theirs = daily_returns(books[other].equity).reindex(mine.index)
                    d, p = sharpe_test(mine.to_numpy(float), theirs.to_numpy(float))
                    rows[-1][f"sharpe_diff_vs_{other}"] = d
                    rows[-1][f"p_sharpe_vs_{other}"] = p
    return rows


def sharpe_by_year(books: Mapping[str, Book]) -> pd.DataFrame:
    """Per calendar year, each book's annualized Sharpe of its daily returns."""
    frame = pd.DataFrame({n: daily_returns(b.equity) for n, b in books.items()})
    year = pd.DatetimeIndex(frame.index).year
    rows = {}
    for y in sorted(set(year.tolist())):
        part = frame[year == y]
        rows[y] = {n: _year_sharpe(part[n].dropna().to_numpy(float)) for n in frame.columns}
    return pd.DataFrame.from_dict(rows, orient="index")


def _year_sharpe(r: np.ndarray) -> float:
    return float(_sharpe(r)) if len(r) > 1 else float("nan")


def by_year(books: Mapping[str, Book]) -> pd.DataFrame:
    """Per calendar year, each book's return (year-end equity over the previous year-end)."""
    frame = pd.DataFrame({n: b.equity for n, b in books.items()})
    ends = frame.groupby(pd.DatetimeIndex(frame.index).year).last()
    starts = ends.shift(1)
    starts.iloc[0] = frame.iloc[0]
    return ends / starts - 1
