"""The command queue as the user sees it: one sentence per command, newest first.

"retrain all — done in 12 s, 3 models promoted"; "collect all — running";
"predict all — failed: the replay has not started yet". The row is rebuilt from the
store's row on every dashboard load, so it follows the database within one refresh.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from tui.widgets.tables import RowsTable

COLUMNS = (("#", 4), ("Command", 56))
STATUS_STYLE = {"queued": "yellow", "running": "bold cyan", "done": "green", "failed": "bold red"}


def describe(kind: str, args: dict[str, Any], *, short: bool = False) -> str:
    """What the command does, in a few words ("retrain all": the watchlist's models);
    `short` leaves out who asked for a retrain (a finished row's columns go to what it did)."""
    if kind == "retrain":
        # Every retrain trains the watchlist's models; a symbol only says where `r` was pressed.
        asked = ", ".join(args.get("symbols") or [])
        return "retrain all" + (f" (asked on {asked})" if asked and not short else "")
    target = args.get("symbol") or ", ".join(args.get("symbols") or []) or "all"
    return f"{kind} {target}"


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _span(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def outcome(kind: str, result: Any) -> str:
    """What a finished command did, in a few words ("" when there is nothing to say)."""
    if kind == "retrain" and isinstance(result, dict):
        results = [r for r in result.get("results") or [] if isinstance(r, dict)]
        promoted = sum(1 for r in results if r.get("promoted"))
        failed = sum(1 for r in results if r.get("status") == "failed")
        text = f"{_plural(promoted, 'model')} promoted" if promoted else "no model promoted"
        return text + (f", {failed} failed" if failed else "")
    if kind == "collect" and isinstance(result, list):
        added = sum(int(r.get("added") or 0) for r in result if isinstance(r, dict))
        bad = [
            r.get("symbol") for r in result if isinstance(r, dict) and r.get("status") == "failed"
        ]
        text = f"{_plural(added, 'bar')} added" if added else "already current"
        return text + (f"; {', '.join(map(str, bad))} failed" if bad else "")
    if kind == "predict" and isinstance(result, list):
        return _plural(len(result), "call")
    if kind == "verify" and isinstance(result, dict):
        numbers = [f"{v} {k}" for k, v in result.items() if isinstance(v, int) and v]
        return ", ".join(numbers[:3]) or "nothing to verify"
    if kind == "watch.add" and isinstance(result, dict):
        new, already = result.get("added") or [], result.get("already") or []
        text = f"added {', '.join(new)}" if new else ""
        text += ("; " if text else "") + (
            f"already watched: {', '.join(already)}" if already else ""
        )
        return text
    if kind == "watch.remove" and isinstance(result, dict):
        return f"removed {', '.join(result.get('removed') or [])}"
    return ""


def sentence(r: dict[str, Any]) -> Text:
    """One command row as a sentence, its status word coloured.

    Only what the row holds is said (no "ago"): the text changes when the row does.
    """
    status = str(r.get("status") or "")
    count = int(r.get("count") or 1)  # a burst of cancellations is one row
    what = describe(r["kind"], r.get("args") or {}, short=status == "done" or count > 1)
    text = Text((f"{count} × " if count > 1 else "") + what + " — ")
    error = r.get("error")
    if status == "failed" and error and str(error).startswith("cancelled"):
        text.append("cancelled", style="yellow")
        text.append(str(error)[len("cancelled") :])
        return text
    text.append(status, style=STATUS_STYLE.get(status, ""))
    if status == "queued" and error:  # re-queued after an interruption: say why
        text.append(f" ({error})")
    elif r.get("behind_training"):
        text.append(" (after training)")  # the panel's title says one trains at a time
    elif status == "done":
        started, finished = _when(r.get("claimed_at")), _when(r.get("finished_at"))
        if started and finished:
            text.append(f" in {_span((finished - started).total_seconds())}")
        said = outcome(r["kind"], r.get("result"))
        if said:
            text.append(", " + said)
    elif status == "failed":
        text.append(f": {error or 'no reason given'}")
    return text


class CommandsTable(RowsTable):
    COLUMNS = COLUMNS
    CURSOR = "none"

    def row(self, r: dict[str, Any]) -> tuple[str, tuple]:
        return str(r["id"]), (str(r["id"]), sentence(r))


def title(commands: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> str:
    """The panel's title: while a training runs, that retrains run one at a time."""
    if not any(j.get("job") == "retrain" for j in jobs):
        return "Commands"
    waiting = sum(1 for c in commands if c.get("behind_training"))
    return "Commands · training (one at a time)" + (f", {waiting} waiting" if waiting else "")
