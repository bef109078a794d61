"""The command queue as the user sees it: one sentence per command, newest first.

"retrain all — done in 12 s, 3 models promoted"; "collect all — running";
"predict all — failed: the replay has not started yet". The row is rebuilt from the
store's row on every dashboard load, so it follows the database within one refresh.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text

from store.views.activity import CommandLine, RunningJob
from tui.widgets.tables import RowsTable
from vocab import commands as schema

COLUMNS = (("#", 4), ("Command", 56))
STATUS_STYLE = {"queued": "yellow", "running": "bold cyan", "done": "green", "failed": "bold red"}


def describe(kind: str, command: schema.Command | None, *, short: bool = False) -> str:
    """What the command does, in a few words ("retrain all": the watchlist's models);
    `short` leaves out who asked for a retrain (a finished row's columns go to what it did).
    A command whose stored arguments do not parse reads as on "all" (its row says it failed)."""
    if isinstance(command, schema.Retrain) or kind == schema.Retrain.KIND:
        # Every retrain trains the watchlist's models; a symbol only says where `r` was pressed.
        asked = ", ".join(command.symbols) if isinstance(command, schema.Retrain) else ""
        return "retrain all" + (f" (asked on {asked})" if asked and not short else "")
    symbols = (
        command.symbols if command is not None and not isinstance(command, schema.Verify) else ()
    )
    return f"{kind} {', '.join(symbols) or 'all'}"


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


def outcome(result: schema.Result | None) -> str:
    """What a finished command did, in a few words ("" when there is nothing to say)."""
    match result:
        case schema.Retrained():
            text = (
                f"{_plural(result.promoted, 'model')} promoted"
                if result.promoted
                else "no model promoted"
            )
            return text + (f", {result.failed} failed" if result.failed else "")
        case schema.Collected():
            added, bad = result.bars_added, result.failed
            text = f"{_plural(added, 'bar')} added" if added else "already current"
            return text + (f"; {', '.join(bad)} failed" if bad else "")
        case schema.Predicted():
            return _plural(result.calls, "call")
        case schema.Verified():
            return ", ".join(f"{v} {k}" for k, v in result.counts[:3]) or "nothing to verify"
        case schema.Watched():
            text = f"added {', '.join(result.added)}" if result.added else ""
            return (
                text
                + ("; " if text else "")
                + (f"already watched: {', '.join(result.already)}" if result.already else "")
            )
        case schema.Unwatched():
            return f"removed {', '.join(result.removed)}"
    return ""


def sentence(r: CommandLine) -> Text:
    """One command row as a sentence, its status word coloured.

    Only what the row holds is said (no "ago"): the text changes when the row does.
    """
    status = r["status"]
    count = r["count"]  # a burst of cancellations is one row
    what = describe(r["kind"], r["command"], short=status == "done" or count > 1)
    text = Text((f"{count} × " if count > 1 else "") + what + " — ")
    error = r["error"]
    if status == "failed" and error and str(error).startswith("cancelled"):
        text.append("cancelled", style="yellow")
        text.append(str(error)[len("cancelled") :])
        return text
    text.append(status, style=STATUS_STYLE.get(status, ""))
    if status == "queued" and error:  # re-queued after an interruption: say why
        text.append(f" ({error})")
    elif r["behind_training"]:
        text.append(" (after training)")  # the panel's title says one trains at a time
    elif status == "done":
        started, finished = _when(r["claimed_at"]), _when(r["finished_at"])
        if started and finished:
            text.append(f" in {_span((finished - started).total_seconds())}")
        said = outcome(r["result"])
        if said:
            text.append(", " + said)
    elif status == "failed":
        text.append(f": {error or 'no reason given'}")
    return text


class CommandsTable(RowsTable[CommandLine]):
    COLUMNS = COLUMNS
    CURSOR = "none"

    def row(self, r: CommandLine) -> tuple[str, tuple[str, Text]]:
        return str(r["id"]), (str(r["id"]), sentence(r))


def title(commands: list[CommandLine], jobs: list[RunningJob]) -> str:
    """The panel's title: while a training runs, that retrains run one at a time."""
    if not any(j["job"] == "retrain" for j in jobs):
        return "Commands"
    waiting = sum(1 for c in commands if c["behind_training"])
    return "Commands · training (one at a time)" + (f", {waiting} waiting" if waiting else "")
