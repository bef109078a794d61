"""`train` alone on a copy of a big home (issue 34): wall, CPU and peak RSS per stage, this
checkout against another (`--old DIR`, e.g. `git worktree add --detach /tmp/train4-main
main`, run with this checkout's venv) alternately, and the saved models compared.

Each run is a fresh process (`child` mode) on a fresh copy of HOME (its database through
SQLite's backup, its models folder copied: HOME itself is only read) that trains the default model set (or `--kinds`) as
`bench_scale.py home` did (`as_of` = the 12th-last business day of the data, the same
settings), so the new artifacts (`<kind>-v2` after a `bench_scale.py home`) are compared with the
newest of each kind in HOME (or `--ref`: what the code that built it trained; `--kinds`:
those kinds only, an ensemble of fewer members differs) and with the other checkout's.

Stages are timed by wrapping the functions `train` calls (both checkouts have them):
read (bars, panel, splits), the evaluation fits and each kind's own fit (thread CPU: a
kind's fit runs in one thread), the ensemble's weights, the evaluation's scoring (the
thresholds and the validation and test metrics), the serving refits, the save (store and
register) and the ranking; `other` is the rest. Peak RSS per stage is sampled from
/proc/self/statm every 20 ms; the process's ru_maxrss is the whole run's peak.

Identical models: every artifact file byte for byte, except meta.json, which records the
training speed (`info.train_samples_per_s`, samples per second of the torch fits: a
timing, not a weight) and, in an ensemble, its members' meta.json digests (which change
with the members' speeds); those are compared with the speed left out, every other field
equal.

Usage:
  python bench/bench_train_scale.py HOME [--old DIR] [--runs 1] [--kinds K,K] [--keep DIR]
  (`--only new|old`: one checkout alone; `--ref` another home's models to compare with)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WALL_TARGET_S = 300.0
RSS_TARGET_MB = 2048.0
SPEED = "train_samples_per_s"


# ---- the child: one train, instrumented -------------------------------------------------


class Meter:
    """Wall, process CPU and peak RSS per named stage (a stage may run more than once)."""

    def __init__(self) -> None:
        self.stage = "other"
        self.peaks: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.kinds: dict[str, tuple[float, float]] = {}
        self.page = os.sysconf("SC_PAGE_SIZE") / 2**20
        self.done = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _rss(self) -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def _sample(self) -> None:
        while not self.done.wait(0.02):
            s = self.stage
            self.peaks[s] = max(self.peaks.get(s, 0.0), self._rss())

    def wrap(self, owner: object, name: str, label: object) -> None:
        fn = getattr(owner, name)
        calls = [0]

        def wrapped(*a: object, **k: object) -> object:
            calls[0] += 1
            lab = label(calls[0]) if callable(label) else str(label)
            before = self.stage
            self.stage = lab
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                self.wall[lab] = self.wall.get(lab, 0.0) + time.perf_counter() - t
                self.cpu[lab] = self.cpu.get(lab, 0.0) + time.process_time() - c
                self.peaks[lab] = max(self.peaks.get(lab, 0.0), self._rss())
                self.stage = before

        setattr(owner, name, wrapped)

    def wrap_fit(self, compute: object, parts: dict[int, str]) -> None:
        """Each kind's fit: wall and the CPU of its thread (a fit runs in one thread here),
        named by the part it trains on (the evaluation's or the serving fit's)."""
        fn = compute.fit_task  # type: ignore[attr-defined]

        def fit_task(kind: str, horizons: object, params: object, split: tuple, **k: object):
            t, c = time.perf_counter(), time.thread_time()
            try:
                return fn(kind, horizons, params, split, **k)
            finally:
                key = f"{parts.get(id(split[0]), '?')} {kind}"
                self.kinds[key] = (time.perf_counter() - t, time.thread_time() - c)

        compute.fit_task = fit_task  # type: ignore[attr-defined]


def child(home: Path, out: Path, kinds: list[str]) -> None:
    sys.path.insert(0, os.environ.get("BENCH_CODE") or str(ROOT))
    import resource

    import pandas as pd

    from assistant import config
    from assistant.modeling import compute, ranking, training
    from models import catalog
    from store.db import open_db

    meter = Meter()
    parts: dict[int, str] = {}
    read = training.read_inputs

    def read_inputs(*a: Any, **k: Any) -> Any:
        inputs = read(*a, **k)
        parts.update({id(inputs.split.train): "eval", id(inputs.walk.train): "refit"})
        return inputs

    setattr(training, "read_inputs", read_inputs)  # noqa: B010
    meter.wrap(training, "read_inputs", "read")
    meter.wrap(training, "fit_all", lambda n: "eval fits" if n == 1 else "refit fits")
    if hasattr(training, "fit_both"):  # both fits of every kind as one set of tasks
        meter.wrap(training, "fit_both", "fits (both)")
    meter.wrap(catalog, "combine", lambda n: "eval ensemble" if n == 1 else "refit ensemble")
    meter.wrap(training, "choose_gates", "scoring")
    meter.wrap(training, "part_metrics", "scoring")
    meter.wrap(training, "store", "save")
    meter.wrap(ranking, "train_ranking", "ranking")
    meter.wrap_fit(compute, parts)
    db = open_db(home)
    settings = config.load(home, environ={})
    last = db.execute("SELECT MAX(date) FROM bars").fetchone()[0]
    as_of = pd.bdate_range(end=last, periods=12)[0].date()
    t, c = time.perf_counter(), time.process_time()
    rep = training.train(db, home, settings, kinds=kinds, as_of=as_of)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    meter.done.set()
    meter.wall["other"] = wall - sum(v for k, v in meter.wall.items() if k != "other")
    meter.cpu["other"] = cpu - sum(v for k, v in meter.cpu.items() if k != "other")
    out.write_text(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "stages": {
                    k: [meter.wall.get(k, 0.0), meter.cpu.get(k, 0.0), meter.peaks.get(k, 0.0)]
                    for k in meter.wall
                },
                "kinds": meter.kinds,
                "rows": rep.rows,
                "results": [(r.kind, r.model_id, r.status) for r in rep.results],
            }
        )
    )


# ---- the parent: copies, runs, comparison ----------------------------------------------


def copy_home(src: Path) -> Path:
    """The database only (online backup: a consistent copy even of a WAL database)."""
    home = Path(tempfile.mkdtemp(prefix="bench-train-")) / "home"
    home.mkdir(mode=0o700)
    (home / "models").mkdir()
    with sqlite3.connect(f"file:{src / 'assistant.db'}?mode=ro", uri=True) as a:
        b = sqlite3.connect(home / "assistant.db")
        a.backup(b)
        b.close()
    # the serving artifacts the gate loads (copied: a train may prune or quarantine them)
    for d in (src / "models").iterdir():
        if d.is_dir():
            shutil.copytree(d, home / "models" / d.name)
    if (src / "config.toml").is_file():
        shutil.copy(src / "config.toml", home / "config.toml")
    return home


def run_one(code: str | None, home_src: Path, kinds: list[str]) -> tuple[dict, Path]:
    home = copy_home(home_src)
    out = home.parent / "out.json"
    env = dict(os.environ, **({"BENCH_CODE": code} if code else {}))
    cmd = [sys.executable, __file__, "child", str(home), "--out", str(out)]
    cmd += ["--kinds", ",".join(kinds)] if kinds else []
    proc = subprocess.Popen(cmd, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"the train run ({code or 'this checkout'}) failed: status {status}")
    res = json.loads(out.read_text())
    res["child_peak"] = usage.ru_maxrss / 1024  # the process and what it waited for
    return res, home


def artifacts(models: Path, skip: frozenset[str] = frozenset()) -> dict[str, Path]:
    """kind -> the newest artifact folder of that kind, leaving out the names in `skip`."""
    out: dict[str, tuple[int, Path]] = {}
    for d in models.iterdir():
        kind, _, version = d.name.rpartition("-v")
        if d.is_dir() and d.name not in skip and version.isdigit():
            if int(version) > out.get(kind, (0, d))[0]:
                out[kind] = (int(version), d)
    return {k: d for k, (_, d) in sorted(out.items())}


def artifact_digests(arts: dict[str, Path]) -> dict[str, str]:
    """kind/relative path -> digest of every file (meta.json with the training speed left
    out, and an ensemble's member digests)."""
    out = {}
    for kind, d in arts.items():
        for f in sorted(p for p in d.rglob("*") if p.is_file()):
            data = f.read_bytes()
            if f.name == "meta.json":
                meta = json.loads(data)
                meta.get("info", {}).pop(SPEED, None)
                meta.get("state", {}).pop("member_digests", None)
                data = json.dumps(meta, sort_keys=True).encode()
            out[f"{kind}/{f.relative_to(d)}"] = hashlib.sha256(data).hexdigest()[:16]
    return out


def registry_facts(home: Path, arts: dict[str, Path]) -> dict[str, str]:
    """kind -> digest of its registry row's facts (ranges, symbols, horizons, data end and
    the metrics: validation and test scores, thresholds, the stored info; the training
    speed left out), for the artifacts `arts`."""
    db = sqlite3.connect(f"file:{home / 'assistant.db'}?mode=ro", uri=True)
    out = {}
    for kind, d in arts.items():
        row = db.execute(
            "SELECT symbols, horizons, train_start, train_end, val_start, val_end, "
            "test_start, test_end, data_end, metrics FROM models WHERE id = ?",
            (d.name,),
        ).fetchone()
        metrics = json.loads(row[-1])
        metrics.get("info", {}).pop(SPEED, None)
        text = json.dumps([*row[:-1], metrics], sort_keys=True)
        out[kind] = hashlib.sha256(text.encode()).hexdigest()[:16]
    db.close()
    return out


def raw_differences(a: dict[str, Path], b: dict[str, Path]) -> list[str]:
    """Files whose bytes differ (whatever the reason), by kind/relative path."""
    diff = []
    for kind, d in a.items():
        for f in sorted(p for p in d.rglob("*") if p.is_file()):
            g = b[kind] / f.relative_to(d) if kind in b else None
            if g is None or not g.is_file() or g.read_bytes() != f.read_bytes():
                diff.append(f"{kind}/{f.relative_to(d)}")
    return diff


def show(label: str, res: dict) -> None:
    print(
        f"\n{label}: wall {res['wall']:.1f} s, CPU {res['cpu']:.1f} s, peak RSS "
        f"{res['peak']:.0f} MB (process and children {res['child_peak']:.0f} MB); targets "
        f"<= {WALL_TARGET_S:.0f} s {'PASS' if res['wall'] <= WALL_TARGET_S else 'FAIL'}, "
        f"<= {RSS_TARGET_MB:.0f} MB {'PASS' if res['child_peak'] <= RSS_TARGET_MB else 'FAIL'}"
    )
    print(f"  {'stage':<16} {'wall s':>8} {'CPU s':>8} {'peak MB':>8}")
    for k, (w, c, p) in res["stages"].items():
        print(f"  {k:<16} {w:8.1f} {c:8.1f} {p:8.0f}")
    for k, (w, c) in sorted(res["kinds"].items()):
        print(f"  fit {k:<20} {w:8.1f} s wall {c:8.1f} s thread CPU")
    print("  rows", res["rows"], "results", res["results"])


def compare(label: str, a: dict[str, str], b: dict[str, str], raw: list[str]) -> bool:
    same = a == b and bool(a)
    print(
        f"{label}: {len(a)} vs {len(b)} files (the newest artifact of each kind), "
        + (
            "IDENTICAL"
            if same
            else "DIFFERENT: "
            + ", ".join(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k)))
        )
    )
    print(f"  bytes differ only in (the training speed in meta.json): {', '.join(raw) or 'none'}")
    return same


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("home")
    ap.add_argument("--out")
    ap.add_argument("--old", help="another checkout to run alternately (main's code)")
    ap.add_argument("--only", choices=["new", "old"], help="one checkout's run alone")
    ap.add_argument("--old-first", action="store_true")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--kinds", default="", help="these kinds only (default: the default set)")
    ap.add_argument("--ref", help="models folder to compare with (default: HOME/models)")
    args = ap.parse_args(sys.argv[2:] if sys.argv[1:2] == ["child"] else sys.argv[1:])
    kinds = [k for k in args.kinds.split(",") if k]
    if sys.argv[1:2] == ["child"]:
        child(Path(args.home), Path(args.out), kinds)
        return 0
    src = Path(args.home)
    ref = Path(args.ref) if args.ref else src / "models"
    codes: list[tuple[str, str | None]] = [("new", None)]
    if args.old:
        codes = [("old", args.old), *codes] if args.old_first else [*codes, ("old", args.old)]
    codes = [c for c in codes if args.only in (None, c[0])]
    ok = True
    for run in range(args.runs):
        homes = {}
        for label, code in codes:
            print(
                f"[{time.strftime('%H:%M:%S')}] run {run + 1} {label}: load "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )
            res, homes[label] = run_one(code, src, kinds)
            show(f"{label} (run {run + 1})", res)
            print(f"[{time.strftime('%H:%M:%S')}] load {os.getloadavg()[0]:.1f}", flush=True)
        before = {d.name for d in (src / "models").iterdir()}
        new = {
            label: artifacts(home / "models", frozenset(before)) for label, home in homes.items()
        }
        ref_arts = artifacts(ref)
        if kinds:
            ref_arts = {k: d for k, d in ref_arts.items() if k in kinds}
        for label, arts in new.items():
            if ref_arts:
                ref_home = ref.parent
                got, want = registry_facts(homes[label], arts), registry_facts(ref_home, ref_arts)
                same = {k for k in got if got[k] == want.get(k)}
                print(
                    f"{label} vs reference, registry rows (scores, thresholds, ranges): "
                    f"identical for {', '.join(sorted(same)) or 'none'}; different for "
                    f"{', '.join(sorted((set(got) | set(want)) - same)) or 'none'}"
                )
                ok &= got == want
                ok &= compare(
                    f"{label} vs reference",
                    artifact_digests(arts),
                    artifact_digests(ref_arts),
                    raw_differences(arts, ref_arts),
                )
        if len(new) == 2:
            got = registry_facts(homes["new"], new["new"])
            want = registry_facts(homes["old"], new["old"])
            print(
                "new vs old, registry rows (scores, thresholds, ranges): "
                + ("IDENTICAL" if got == want else f"DIFFERENT: {got} vs {want}")
            )
            ok &= got == want
            ok &= compare(
                "new vs old",
                artifact_digests(new["new"]),
                artifact_digests(new["old"]),
                raw_differences(new["new"], new["old"]),
            )
        for home in homes.values():
            shutil.rmtree(home.parent, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
