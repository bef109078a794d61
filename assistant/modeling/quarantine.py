"""Quarantine only what is proven broken, and lift what proves whole.

A model is quarantined when its artifact is proven broken (`models.artifacts.ArtifactError`:
a missing file, unparsable content, a checksum mismatch). The OS refusing a read (too
many open files, an I/O error) proves nothing: `unavailable` logs it and the load is
tried again next cycle. `recheck` loads each quarantine in effect again (a quarantine
recorded before this rule, or a file restored since): one that now loads whole is
lifted, with a log line, and serves again if it is the newest of its kind.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlite_utils

from store import registry

log = logging.getLogger("assistant.modeling")

RANKING = "ranking"  # assistant.modeling.ranking.KIND (loaded by models.ranking)


def load(home: Path, row: registry.ModelRow) -> object:
    """The model of a registry row, loaded (ArtifactError / ArtifactUnavailable if not)."""
    from assistant.modeling import disk
    from models import catalog, ranking

    path = disk.artifact_dir(home, row)  # confined to <home>/models (ArtifactError if not)
    return ranking.Ranker.load(path) if row["kind"] == RANKING else catalog.load(path)


def unavailable(model_id: str, exc: BaseException) -> str:
    """Log a load the OS refused for now; the note that says so."""
    note = f"model {model_id} could not be loaded ({exc}): not quarantined, tried again next cycle"
    log.warning(note)
    return note


def recheck(db: sqlite_utils.Database, home: Path) -> list[str]:
    """Lift each quarantine in effect whose artifact loads whole now; the ids lifted."""
    from assistant.modeling import disk

    lifted = []
    rows = sorted(registry.quarantines(db), key=lambda q: (q["kind"], q["version"]))
    for q in rows:
        try:
            if not disk.artifact_dir(home, q).is_dir():
                continue  # deleted: stays quarantined
            load(home, q)
        except Exception:
            continue  # still broken (or still unreadable): the quarantine stands
        note = f"quarantine lifted: its artifact reads back whole (was: {q['reason']})"
        status = registry.lift(db, q["id"], note)
        log.warning("model %s %s; it is %s now", q["id"], note, status)
        lifted.append(q["id"])
    return lifted
