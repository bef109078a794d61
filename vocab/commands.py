"""The commands the TUI (and the drift check) queue for the daemon, as types.

A command row stores its kind and its arguments as JSON text; when it finishes, its
result as JSON text. This module is the one place that text is read and written:
`parse(kind, text)` gives the kind's typed arguments, `dump(command)` the text, and
`parse_result` / `dump_result` do the same for what a finished command did.

A retrain queued by the daemon's drift check says so in `scheduled` (a replay's end
cancels those; nothing else does). Rows written before that field existed said it only
in their reason ("drift: ..."), and still parse that way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import ClassVar

KINDS = ("watch.add", "watch.remove", "collect", "predict", "retrain", "verify")


class CommandArgsError(ValueError):
    """A command row whose arguments do not fit its kind (or are not JSON at all)."""


@dataclass(frozen=True)
class WatchAdd:
    """Put symbols on the watchlist (and collect their history)."""

    KIND: ClassVar[str] = "watch.add"
    symbols: tuple[str, ...]


@dataclass(frozen=True)
class WatchRemove:
    """Take symbols off the watchlist."""

    KIND: ClassVar[str] = "watch.remove"
    symbols: tuple[str, ...]


@dataclass(frozen=True)
class Collect:
    """Collect bars for some symbols (none: the whole watchlist)."""

    KIND: ClassVar[str] = "collect"
    symbols: tuple[str, ...] = ()


@dataclass(frozen=True)
class Predict:
    """Run a prediction cycle for some symbols (none: the whole watchlist)."""

    KIND: ClassVar[str] = "predict"
    symbols: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verify:
    """Score the pending predictions whose target session has closed."""

    KIND: ClassVar[str] = "verify"


@dataclass(frozen=True)
class Retrain:
    """Retrain the watchlist's models. `symbols` only say who asked (models are global);
    `kinds` None means every configured kind; `reason` "" means requested by a user."""

    KIND: ClassVar[str] = "retrain"
    symbols: tuple[str, ...] = ()
    kinds: tuple[str, ...] | None = None
    reason: str = ""
    scheduled: bool = False  # queued by the daemon's drift check, not by a user

    def identity(self) -> tuple[tuple[str, ...], tuple[str, ...] | None, bool]:
        """What makes two queued retrains the same request (the second is not queued)."""
        return (
            tuple(sorted(s.strip().upper() for s in self.symbols)),
            None if self.kinds is None else tuple(sorted(self.kinds)),
            self.scheduled,
        )


Command = WatchAdd | WatchRemove | Collect | Predict | Verify | Retrain


def _object(text: str | None) -> dict[str, object]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:  # a row written by hand or by another program
        raise CommandArgsError(f"arguments are not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise CommandArgsError("command arguments must be a JSON object")
    return value


def _strings(value: object, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise CommandArgsError(what)
    return tuple(value)


def _symbols(args: dict[str, object]) -> tuple[str, ...]:
    """`symbols` (a list) or `symbol` (one ticker); none at all means the whole watchlist."""
    raw = args.get("symbols", args.get("symbol"))
    if raw in (None, [], ""):
        return ()
    return (
        _strings([raw] if isinstance(raw, str) else raw, "`symbols` must be a list of tickers")
        or ()
    )


def parse(kind: str, text: str | None) -> Command:
    """The typed arguments of a command row; CommandArgsError says what does not fit.

    Unknown keys are ignored; a command that needs symbols and names none is an error.
    """
    if kind not in KINDS:
        raise CommandArgsError(f"unknown command {kind!r}")
    args = _object(text)
    if kind == Verify.KIND:
        return Verify()
    if kind == Retrain.KIND:
        kinds = _strings(args.get("kinds"), "`kinds` must be a list of model kinds")
        reason = str(args.get("reason") or "")
        scheduled = args.get("scheduled")
        if scheduled is None:  # a row from before the field: the drift check's reason said it
            scheduled = reason.startswith("drift")
        return Retrain(_symbols(args), kinds, reason, bool(scheduled))
    symbols = _symbols(args)
    if kind == Collect.KIND:
        return Collect(symbols)
    if kind == Predict.KIND:
        return Predict(symbols)
    if not symbols:
        raise CommandArgsError("this command needs `symbols`")
    return WatchAdd(symbols) if kind == WatchAdd.KIND else WatchRemove(symbols)


def dump(command: Command) -> str:
    """The JSON text of a command's arguments (what `parse(command.KIND, text)` reads back)."""
    args: dict[str, object] = {}
    if not isinstance(command, Verify) and command.symbols:
        args["symbols"] = list(command.symbols)
    if isinstance(command, Retrain):
        if command.kinds is not None:
            args["kinds"] = list(command.kinds)
        if command.reason:
            args["reason"] = command.reason
        args["scheduled"] = command.scheduled
    return json.dumps(args)


# --- results -----------------------------------------------------------------------------


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _texts(value: object) -> tuple[str, ...]:
    return tuple(str(x) for x in _list(value))


def _records(value: object) -> list[dict[str, object]]:
    return [r for r in _list(value) if isinstance(r, dict)]


def _count(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


@dataclass(frozen=True)
class Watched:
    """watch.add: the symbols added, those already watched, and whether their history came."""

    added: tuple[str, ...]
    already: tuple[str, ...]
    collected: bool | None = None  # None: not tried yet (a replay collects with its session)
    collect_error: str | None = None


@dataclass(frozen=True)
class Unwatched:
    """watch.remove: the symbols taken off."""

    removed: tuple[str, ...]


@dataclass(frozen=True)
class Collected:
    """collect: the job's per-symbol report, stored as it is."""

    report: object = field(default=None)

    @property
    def bars_added(self) -> int:
        return sum(_count(r.get("added")) for r in _records(self.report))

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(
            str(r.get("symbol")) for r in _records(self.report) if r.get("status") == "failed"
        )


@dataclass(frozen=True)
class Predicted:
    """predict: the calls the cycle made, stored as they are."""

    report: object = field(default=None)

    @property
    def calls(self) -> int:
        return len(_list(self.report))


@dataclass(frozen=True)
class Verified:
    """verify: the verify report (counts by what happened), stored as it is."""

    report: object = field(default=None)

    @property
    def counts(self) -> tuple[tuple[str, int], ...]:
        """The non-zero whole-number entries, in the report's order."""
        items = self.report.items() if isinstance(self.report, dict) else []
        return tuple((str(k), int(v)) for k, v in items if isinstance(v, int) and v)


@dataclass(frozen=True)
class Retrained:
    """retrain: the training job's report (one entry per model), stored as it is."""

    report: object = field(default=None)

    @property
    def promoted(self) -> int:
        return sum(1 for r in self._results() if r.get("promoted"))

    @property
    def failed(self) -> int:
        return sum(1 for r in self._results() if r.get("status") == "failed")

    def _results(self) -> list[dict[str, object]]:
        return _records(self.report.get("results") if isinstance(self.report, dict) else None)


Result = Watched | Unwatched | Collected | Predicted | Verified | Retrained
_JOB_RESULTS: dict[str, type[Collected | Predicted | Verified | Retrained]] = {
    Collect.KIND: Collected,
    Predict.KIND: Predicted,
    Verify.KIND: Verified,
    Retrain.KIND: Retrained,
}


def parse_result(kind: str, text: str | None) -> Result | None:
    """What a finished command did, from its row's result text; None when there is none
    (or it is not what the kind writes: a row from another program)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if kind in _JOB_RESULTS:  # collect and predict report a list, verify and retrain an object
        shape = list if kind in (Collect.KIND, Predict.KIND) else dict
        return _JOB_RESULTS[kind](value) if isinstance(value, shape) else None
    if not isinstance(value, dict):
        return None
    if kind == WatchAdd.KIND:
        collected = value.get("collected")
        error = value.get("collect_error")
        return Watched(
            _texts(value.get("added")),
            _texts(value.get("already")),
            collected if isinstance(collected, bool) else None,
            error if isinstance(error, str) else None,
        )
    if kind == WatchRemove.KIND:
        return Unwatched(_texts(value.get("removed")))
    return None


def dump_result(result: Result) -> str | None:
    """The JSON text of a result (a job's report exactly as the job gave it; None, stored
    as NULL, when the job reported nothing)."""
    if isinstance(result, Watched):
        out: dict[str, object] = {"added": list(result.added), "already": list(result.already)}
        if result.collected is not None:
            out["collected"] = result.collected
        if result.collect_error is not None:
            out["collect_error"] = result.collect_error
        return json.dumps(out)
    if isinstance(result, Unwatched):
        return json.dumps({"removed": list(result.removed)})
    return None if result.report is None else json.dumps(result.report)
