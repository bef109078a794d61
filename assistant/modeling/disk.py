"""Model artifacts on disk, kept in step with the registry: free version numbers,
orphans, pruning.

Publishing a model directory and registering its row happen under one lock per home
(`<home>/models/.lock`, an `fcntl.flock` the kernel frees when its holder dies), and so
does pruning. Inside the lock, a `<kind>-v<N>` directory without a registry row is
therefore an orphan of a process killed between publish and register, and a
`.<kind>-v<N>.tmp-*` directory a save that never finished. `tidy` moves a complete orphan
aside to `<home>/models/orphaned/` (it cannot be adopted: the data it was trained on, its
metrics and its data end were never recorded) and removes an incomplete one; version
numbers skip every number found on disk, so a new model never collides with an old
directory.

Pruning (`prune`, the rule in `keep_set`): per kind, keep the serving model and the
`keep` newest other models with a usable artifact, and quarantined models newer than the
serving one (what `status` reports). An `--as-of` call at any date from the oldest kept
model's data end on (the kept history) is served exactly as before pruning. The artifacts
of the rest are deleted and their rows marked `pruned`: history and the ledger still name
them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from store import registry

MODELS = "models"
ORPHANED = "orphaned"
LOCK = ".lock"
_NAME = re.compile(r"^\.?(?P<id>(?P<kind>[a-z]+)-v(?P<version>\d+))(?P<tmp>\.tmp-.*)?$")
log = logging.getLogger(__name__)


def artifact_dir(home: Path, row: Mapping[str, object]) -> Path:
    """Where a registry row's artifact is: its `artifact_path` inside `<home>/models/`.

    The path is read from the database, which anything may have edited: one that leads
    outside `<home>/models/` (absolute, `..`, a symbolic link out) is refused
    (ArtifactError, logged) before anything loads or deletes it. A load then quarantines
    the model as any unusable artifact; `prune` leaves it alone."""
    from models.artifacts import ArtifactError

    root = (Path(home) / MODELS).resolve()
    given = str(row["artifact_path"])
    path = (Path(home) / given).resolve()
    if path == root or not path.is_relative_to(root):
        why = f"artifact path {given!r} of model {row['id']} is outside {root}; refused"
        log.warning("%s", why)
        raise ArtifactError(why)
    return path


@contextlib.contextmanager
def lock(home: Path) -> Iterator[None]:
    """Hold the home's artifact lock (publish + register, prune) until the block ends."""
    root = Path(home) / MODELS
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def _entries(root: Path) -> Iterator[tuple[Path, re.Match[str]]]:
    if not root.is_dir():
        return
    for path in sorted(root.iterdir()):
        m = _NAME.match(path.name)
        if m and path.is_dir():
            yield path, m


def tidy(db: sqlite_utils.Database, home: Path) -> list[str]:
    """Clear what killed processes left in `<home>/models/` (call it under `lock`); one line
    per thing done."""
    root = Path(home) / MODELS
    known = {r["id"] for r in registry.list_models(db)}
    notes = []
    for path, m in _entries(root):
        try:
            note = _clear(path, m, known, root)
        except OSError as exc:  # a directory that cannot be cleared is only stepped over
            note = f"could not clear {path.name} ({exc}); new versions skip its number"
        if note:
            notes.append(note)
    return notes


def _clear(path: Path, m: re.Match[str], known: set[str], root: Path) -> str | None:
    from models import artifacts, catalog

    if m["tmp"]:
        artifacts.discard(path)
        return f"removed {path.name}: an unfinished save"
    if m["id"] in known:
        return None
    try:
        from models import ranking

        if m["kind"] == ranking.KIND:  # the ranking model has its own loader
            ranking.Ranker.load(path)
        else:
            catalog.load(path)
    except artifacts.ArtifactUnavailable as exc:  # proves nothing: looked at again next time
        return f"left {m['id']} as it is: it cannot be read now ({exc})"
    except Exception as exc:  # anything that does not load is incomplete
        artifacts.discard(path)
        return f"removed {m['id']}: an orphan artifact that does not load ({exc})"
    aside = root / ORPHANED
    aside.mkdir(exist_ok=True)
    target = aside / f"{m['id']}.{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"
    os.replace(path, target)
    return (
        f"moved {m['id']} aside to {target.relative_to(root.parent)}: a complete artifact "
        "that was never registered (its training data and metrics are unknown)"
    )


def next_version(db: sqlite_utils.Database, home: Path, kind: str) -> int:
    """The next version of `kind`: above every registered one and every number on disk
    (orphans moved aside, named `<id>.<time>`, included), so no directory is ever reused."""
    root = Path(home) / MODELS
    names = [p.name for p in root.iterdir()] if root.is_dir() else []
    if (root / ORPHANED).is_dir():
        names += [p.name.split(".")[0] for p in (root / ORPHANED).iterdir()]
    on_disk = [int(m["version"]) for n in names if (m := _NAME.match(n)) and m["kind"] == kind]
    return max([registry.next_version(db, kind), *(v + 1 for v in on_disk)])


@dataclass
class Pruned:
    model_id: str
    mb: float


def keep_set(rows: list[registry.ModelRow], keep: int) -> set[str]:
    """The ids of one kind's models whose artifacts stay: the serving model, the `keep`
    newest other usable ones (models that served first, newest known first), every model
    that served and was known after the serving one, and quarantined ones newer than the
    serving model. `rows`: every registry row of the kind.

    Why this keeps every `--as-of` call in the kept history (dates after the first session
    a kept model that served was known on) unchanged: at such a date D,
    `registry.choose_as_of` takes, of the models that served, the one known last by D.
    Were it dropped, every model that served and ranks above it (the serving one, those
    known after it, the `keep` kept before it) would be known after D, and so would every
    kept one: D would be outside the kept history."""
    usable = [r for r in rows if r["status"] not in registry.UNUSABLE]
    serving = [r for r in usable if r["status"] == "serving"]

    def rank(r: registry.ModelRow) -> tuple[bool, str, int]:
        return (r["status"] in registry.PROMOTED, registry.known_on(r), r["version"])

    others = sorted((r for r in usable if r["status"] != "serving"), key=rank, reverse=True)
    top = max((r["version"] for r in serving), default=0)
    above = [r for r in others if r["status"] in registry.PROMOTED and serving]
    above = [r for r in above if rank(r) > rank(serving[0])]
    in_effect = [r for r in rows if r["status"] == "quarantined" and r["version"] > top]
    return {r["id"] for r in serving + others[: max(0, keep)] + above + in_effect}


def prune(db: sqlite_utils.Database, home: Path, kinds: list[str], keep: int) -> list[Pruned]:
    """Delete the artifacts of the models of `kinds` outside `keep_set`; their rows stay,
    marked pruned. Call it under `lock`."""
    from models import artifacts

    out = []
    for kind in kinds:
        rows = registry.list_models(db, kind=kind)
        kept = keep_set(rows, keep)
        for r in rows:
            if r["id"] in kept or r["status"] == "pruned":
                continue
            try:
                path = artifact_dir(home, r)
            except artifacts.ArtifactError:  # never delete outside the home (logged)
                continue
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            was = r["status"] + (f": {r['reason']}" if r.get("reason") else "")
            registry.set_status(
                db,
                r["id"],
                "pruned",
                f"artifact deleted ([models] keep_versions = {keep}; was {was})"[:500],
            )
            artifacts.discard(path)
            out.append(Pruned(r["id"], size / 1e6))
    return out
