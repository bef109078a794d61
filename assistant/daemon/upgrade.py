"""Notice an upgrade made under the running daemon.

A daemon runs for weeks; the program under it changes. Two ways, both common:
- its files change on disk: a `git pull` in the editable install `.ci/setup` makes, or a
  `pip install -U`. The modules the daemon already imported stay old while the ones it
  imports later (training, alerts, the paper account) come from the new files: two
  versions in one process;
- a newer version's command (the new checkout's `assistant status`, say) migrates the
  database: the old daemon then writes into a schema it does not know.

`CodeWatch` fingerprints the project's source files (path, size, mtime) when the daemon
starts and says when they changed and then held still for one more check (a `git pull`
writes files one by one: restarting in the middle of it would load half of it). The
loop then restarts the daemon in place (`os.execv`, same pid, same arguments) with the
new code; a database with unknown schema steps is a restart too, and the new image
refuses it with one line if the program on disk is still older than the database.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

PACKAGES = ("assistant", "store", "models", "tui", "vocab")  # pyproject's packages
SOURCE_SUFFIXES = (".py", ".tcss")
CHECK_EVERY_HEARTBEATS = 2  # every 10 s with the default 5 s heartbeat

Fingerprint = dict[str, tuple[int, int]]


def package_dirs() -> list[Path]:
    """Where the project's packages are imported from (the checkout when editable)."""
    out = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            out.append(Path(location))
    return out


def fingerprint(dirs: list[Path]) -> Fingerprint:
    """(size, mtime_ns) of every source file under `dirs`, by path."""
    out: Fingerprint = {}
    for top in dirs:
        for root, subdirs, files in os.walk(top):
            subdirs[:] = [d for d in subdirs if d != "__pycache__"]
            for name in files:
                if name.endswith(SOURCE_SUFFIXES):
                    path = os.path.join(root, name)
                    try:
                        st = os.stat(path)
                    except OSError:  # removed while walking
                        continue
                    out[path] = (st.st_size, st.st_mtime_ns)
    return out


def changed_files(before: Fingerprint, after: Fingerprint) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


class CodeWatch:
    """The source files as the daemon started with them, and whether they have changed."""

    def __init__(self, dirs: list[Path] | None = None):
        self.dirs = package_dirs() if dirs is None else dirs
        self.started = fingerprint(self.dirs)
        self._seen: Fingerprint | None = None  # a changed state, waiting to hold still

    def settled_change(self) -> list[str]:
        """The files changed since the start, once two checks in a row saw the same
        changed state ([] while nothing changed or the change is still going on)."""
        now = fingerprint(self.dirs)
        if now == self.started:
            self._seen = None
            return []
        if now != self._seen:
            self._seen = now
            return []
        return changed_files(self.started, now)


def describe(paths: list[str], roots: list[Path], most: int = 3) -> str:
    """'3 files: assistant/cycle/run.py, ...' relative to the packages' parent."""
    parents = {r.parent for r in roots}

    def rel(p: str) -> str:
        for parent in parents:
            try:
                return str(Path(p).relative_to(parent))
            except ValueError:
                continue
        return p

    names = [rel(p) for p in paths[:most]]
    more = f", and {len(paths) - most} more" if len(paths) > most else ""
    return f"{len(paths)} file{'s' if len(paths) != 1 else ''}: {', '.join(names)}{more}"
