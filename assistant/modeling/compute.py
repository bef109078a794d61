"""Training and backtest work as independent tasks, run in this process or on a Dask cluster.

A `Task` is a module-level function and its arguments: the data it needs (a train/val
split, the feature rows of one backtest block) travels with it, never the database.
Arguments may name the result of another task (`Ref`) or a large input shared by several
tasks (`Shared`, shipped to the cluster once per run). Fitted models travel back as the
files of a saved artifact (`pack`), and are loaded on this side through the catalog,
which checks every file's checksum and the feature schema (a worker running other code
is refused). The caller saves them into the home with the usual atomic save path and
registers them only after every task of the run has come back: a task that fails, or a
worker lost more often than the cluster retries, fails the run with one clear line and
nothing is registered.

`runner(address)` picks the backend: `LocalRunner` (threads in this process, with
progress and stop) when no scheduler is configured, `DaskRunner` otherwise. The same
tasks with the same seeds give the same results on both (tests/test_scale_compute.py).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Generic, NamedTuple, Protocol, TypedDict, TypeVar

from assistant.config import Settings
from assistant.errors import AssistantError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from distributed import Future

    from models.base import Forecaster
    from models.dataset import Dataset

ENV = "ASSISTANT_COMPUTE_SCHEDULER"
_ADDRESS = re.compile(r"^(tcp|tls)://[A-Za-z0-9._\-\[\]:]+:\d{1,5}$")

Progress = Callable[[str, float, str], None]


@dataclass(frozen=True)
class Ref:
    """The result of the task with this key (the task must come earlier in the list)."""

    key: str


T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Shared(Generic[T]):
    """A large input several tasks read: shipped to the cluster once, not once per task."""

    value: T


class BlockForecast(NamedTuple):
    """One kind's forecasts of a backtest block's rows."""

    horizons: tuple[int, ...]
    expected_return: np.ndarray  # (rows, H)
    probs: np.ndarray  # (rows, H, 3)
    thresholds: list[float | None]  # per horizon, chosen on the block's validation part


class Outcome(TypedDict, total=False):
    """What a task sends back: a fit (`kind` and the packed `files`, or its `error`), a
    backtest block (`forecasts` per kind and the kinds' `errors`, or one `error`), or that
    it was `stopped`."""

    kind: str
    files: dict[str, bytes]
    error: str
    stopped: bool
    forecasts: dict[str, BlockForecast]
    errors: list[str]
    fitted: object  # what a task run in this process made, as it is (LocalRunner only)


@dataclass
class Task:
    key: str
    fn: Callable[..., Outcome]  # a module-level task function (below)
    # its arguments, opaque to the runners but for the Refs and Shareds they hold
    args: tuple[object, ...] = ()
    keep: bool = True  # bring the result back (False: only other tasks need it)
    local_hooks: bool = False  # fn takes progress= and stop= when run in this process
    # Run here with the threads per job of a wave of `width` tasks (None: of its own wave).
    # A fit's arithmetic depends on its thread count: tasks that used to run in waves of
    # `width` keep their results when they run side by side in a bigger one.
    width: int | None = None


class Runner(Protocol):
    name: str

    def run(
        self,
        tasks: list[Task],
        progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> dict[str, Outcome]: ...


# ---- where to run ---------------------------------------------------------------------


def scheduler_address(settings: Settings, override: str | None = None) -> str | None:
    """The Dask scheduler to use: `--scheduler`, else the settings' `[compute] scheduler`
    (config.toml, overridden by $ASSISTANT_COMPUTE_SCHEDULER as every setting is);
    None ("" or "local") means run here."""
    value = (settings.compute.scheduler if override is None else override).strip()
    if value in ("", "local"):
        return None
    if not _ADDRESS.match(value):
        raise AssistantError(
            f"scheduler {value!r} is not a Dask scheduler address like tcp://HOST:8786 "
            "(or 'local' to run here)"
        )
    return value


def runner(address: str | None) -> Runner:
    return DaskRunner(address) if address else LocalRunner()


# ---- model artifacts over the wire ----------------------------------------------------


def pack(model: Forecaster) -> dict[str, bytes]:
    """The files of the saved model (the same save path as the registry uses)."""
    with tempfile.TemporaryDirectory(prefix="assistant-pack-") as tmp:
        target = Path(tmp) / "model"
        model.save(target)
        return {p.name: p.read_bytes() for p in sorted(target.iterdir()) if p.is_file()}


def unpack(files: dict[str, bytes], kind: str = "model") -> Forecaster:
    """Load a packed model (checksums and feature schema checked, nothing unpickled)."""
    from models import artifacts, catalog

    with tempfile.TemporaryDirectory(prefix="assistant-unpack-") as tmp:
        for name, data in files.items():
            if "/" in name or name.startswith(".") or name in ("", ".."):
                raise AssistantError(f"{kind}: the worker sent a bad artifact file name {name!r}")
            (Path(tmp) / name).write_bytes(data)
        try:
            return catalog.load(Path(tmp))
        except artifacts.ArtifactError as exc:
            raise AssistantError(
                f"{kind}: the model a worker trained cannot be loaded here ({exc}); "
                "is the worker running the same version of trading-assistant?"
            ) from None


# ---- the task functions (module level: workers import them by name) ------------------


def fit_task(
    kind: str,
    horizons: tuple[int, ...],
    params: Mapping[str, int],
    split: tuple[Dataset, Dataset],
    *,
    progress: Callable[[float, str], None] | None = None,
    stop: threading.Event | None = None,
) -> Outcome:
    """Fit one kind on (train, val); {"files": packed} or {"error": message} or {"stopped"}.
    A model that fails to fit is a result (reported as failed), not a failed task."""
    from models import catalog
    from models.base import Stopped

    train, val = split
    try:
        model = catalog.make(kind, horizons, **params)
        model.fit(train, val, stop=stop, progress=progress)
        return {"kind": kind, "files": pack(model)}
    except Stopped:
        return {"kind": kind, "stopped": True}
    except Exception as exc:
        return {"kind": kind, "error": str(exc) or type(exc).__name__}


def ranking_task(bars: dict[str, pd.DataFrame], horizons: tuple[int, ...]) -> Outcome:
    """The ranking's fits (assistant.modeling.ranking.fit_ranking) beside the forecasters'
    (in this process only: the ranker comes back as it is); what it raises comes back too,
    for `train_ranking` to report as it always has."""
    from assistant.modeling import ranking

    try:
        return {"kind": ranking.KIND, "fitted": ranking.fit_ranking(bars, horizons)}
    except Exception as exc:
        return {"kind": ranking.KIND, "fitted": exc}


def block_task(
    fits: list[Outcome], split: tuple[Dataset, Dataset], X: pd.DataFrame, sel: np.ndarray
) -> Outcome:
    """One backtest block: the fitted kinds (+ their ensemble, weights fit on the split's
    validation part) predict the block's rows `sel` of X; kind -> (horizons, expected
    return, probabilities at those rows, the evidence threshold per horizon chosen on the
    validation part)."""
    from models import catalog, selective

    models = {f["kind"]: unpack(f["files"], f["kind"]) for f in fits if "files" in f}
    errors = [f"{f['kind']}: {f['error']}" for f in fits if "error" in f]
    if any(f.get("stopped") for f in fits):
        return {"stopped": True}
    if not models:
        return {"error": "; ".join(errors) or "no model kinds"}
    models.update(catalog.combine(models, split[1]))
    out = {}
    val = split[1]
    for kind, model in models.items():
        fc = model.predict(X)
        fc_val = model.predict(val.X)
        gates = [selective.choose_gate(val, fc_val, i) for i in range(len(fc.horizons))]
        out[kind] = BlockForecast(fc.horizons, fc.expected_return[sel], fc.probs[sel], gates)
    return {"forecasts": out, "errors": errors}


def fit_results(
    results: Mapping[str, Outcome], kinds: Iterable[str], key: Callable[[str], str] = lambda k: k
) -> dict[str, Forecaster | Exception | None]:
    """kind -> loaded model, or the error (as an exception), or None when stopped."""
    out: dict[str, Forecaster | Exception | None] = {}
    for kind in kinds:
        r = results[key(kind)]
        if "files" in r:
            out[kind] = unpack(r["files"], kind)
        elif r.get("stopped"):
            out[kind] = None
        else:
            out[kind] = RuntimeError(r["error"])
    return out


# ---- backends -------------------------------------------------------------------------


def _walk(value: object, leaf: Callable[[Ref | Shared[object]], object]) -> object:
    if isinstance(value, Ref | Shared):
        return leaf(value)
    if isinstance(value, tuple):
        return tuple(_walk(v, leaf) for v in value)
    if isinstance(value, list):
        return [_walk(v, leaf) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, leaf) for k, v in value.items()}
    return value


def _walk_args(
    args: tuple[object, ...], leaf: Callable[[Ref | Shared[object]], object]
) -> tuple[object, ...]:
    return tuple(_walk(v, leaf) for v in args)


def _refs(value: object) -> list[str]:
    found: list[str] = []
    _walk(value, lambda v: found.append(v.key) if isinstance(v, Ref) else v)
    return found


def _check_graph(tasks: list[Task]) -> None:
    seen: set[str] = set()
    for t in tasks:
        if t.key in seen:
            raise ValueError(f"duplicate task key {t.key!r}")
        missing = [k for k in _refs(t.args) if k not in seen]
        if missing:
            raise ValueError(f"task {t.key!r} needs {missing[0]!r}, which does not come before it")
        seen.add(t.key)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. under taskset or a cgroup)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class LocalRunner:
    """Threads in this process (joblib), one wave of ready tasks at a time."""

    name = "local"

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = jobs or usable_cores()
        self.timings: dict[str, float] = {}  # task key -> seconds (for bench projections)

    def run(
        self,
        tasks: list[Task],
        progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> dict[str, Outcome]:
        import joblib
        import threadpoolctl

        _check_graph(tasks)
        torch = _torch_for(tasks)
        say = progress or (lambda k, f, m: None)
        lock = threading.Lock()  # callers' progress writers are not thread-safe
        results: dict[str, Outcome] = {}

        def one(task: Task) -> Outcome:
            args = _walk_args(
                task.args, lambda v: results[v.key] if isinstance(v, Ref) else v.value
            )

            def report(fraction: float, message: str) -> None:
                with lock:
                    say(task.key, fraction, message)

            t0 = time.perf_counter()
            try:
                if not task.local_hooks:
                    return task.fn(*args)
                return task.fn(*args, progress=report, stop=stop)
            finally:
                self.timings[task.key] = time.perf_counter() - t0

        pending = list(tasks)
        while pending:
            ready = [t for t in pending if all(k in results for k in _refs(t.args))]
            pending = [t for t in pending if t not in ready]
            jobs = max(1, min(len(ready), self.jobs))
            widths = [t.width for t in ready if t.width]
            side = max(1, min(min(widths), self.jobs)) if widths else jobs
            per_job = max(1, usable_cores() // side)  # jobs x threads never exceeds the cores
            if widths:
                jobs = max(1, min(jobs, usable_cores() // per_job))
            threads = torch.get_num_threads() if torch else 0
            if torch:
                torch.set_num_threads(per_job)
            try:
                # BLAS and OpenMP pools too (numpy, xgboost's OpenMP): the same cap.
                with threadpoolctl.threadpool_limits(limits=per_job):
                    outs = joblib.Parallel(n_jobs=jobs, backend="threading")(
                        joblib.delayed(one)(t) for t in ready
                    )
            except AssistantError:
                raise
            except Exception as exc:
                raise AssistantError(f"a task failed: {type(exc).__name__}: {exc}") from exc
            finally:
                if torch:
                    torch.set_num_threads(threads)
            results.update(zip([t.key for t in ready], outs, strict=True))
        return {t.key: results[t.key] for t in tasks if t.keep}


def _torch_for(tasks: list[Task]) -> ModuleType | None:
    """torch, to cap its threads like the other pools', when it is loaded already or a task
    fits a torch kind; otherwise None, and a run of the fast kinds never loads it (seconds)."""
    from models.catalog import TORCH_KINDS

    if "torch" not in sys.modules and not any(
        t.fn is fit_task and t.args and t.args[0] in TORCH_KINDS for t in tasks
    ):
        return None
    import torch

    return torch


class DaskRunner:
    """Tasks submitted to a Dask scheduler; shared inputs scattered to every worker once.

    Exceptions are retried `retries` times; a worker that dies mid-task is rescheduled by
    the scheduler (up to its `distributed.scheduler.allowed-failures`)."""

    name = "dask"

    def __init__(self, address: str, *, retries: int = 1, connect_timeout: float = 10.0) -> None:
        self.address = address
        self.retries = retries
        self.connect_timeout = connect_timeout

    def run(
        self,
        tasks: list[Task],
        progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> dict[str, Outcome]:
        from distributed import Client, as_completed

        _check_graph(tasks)
        say = progress or (lambda k, f, m: None)
        try:
            client = Client(self.address, timeout=f"{self.connect_timeout}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise AssistantError(
                f"cannot reach the Dask scheduler at {self.address}: {exc}"
            ) from None
        token = uuid.uuid4().hex[:8]
        futures: dict[str, Future[object]] = {}
        shared: dict[int, Future[object]] = {}

        def remote(v: Ref | Shared[object]) -> Future[object]:
            if isinstance(v, Ref):
                return futures[v.key]
            if id(v) not in shared:
                shared[id(v)] = client.scatter(v.value, broadcast=True, hash=False)
            return shared[id(v)]

        try:
            for t in tasks:
                futures[t.key] = client.submit(
                    t.fn,
                    *_walk_args(t.args, remote),
                    key=f"assistant-{t.key}-{token}",
                    pure=False,
                    retries=self.retries,
                )
            by_key = {f.key: k for k, f in futures.items()}
            total, finished = len(futures), 0
            ac = as_completed(list(futures.values()), loop=client.loop)
            while finished < total:
                if stop is not None and stop.is_set():
                    raise AssistantError("stopped: the cluster's tasks were cancelled")
                batch = ac.next_batch(block=False)
                if not batch:
                    time.sleep(0.05)
                    continue
                for f in batch:
                    key, finished = by_key[f.key], finished + 1
                    if f.status != "finished":
                        why = f.exception() if f.status == "error" else f.status
                        raise AssistantError(
                            f"task {key} failed on the cluster ({self.address}): "
                            f"{type(why).__name__}: {why}"
                        )
                    say(key, 1.0, f"done on the cluster ({finished}/{total})")
            keep = [t.key for t in tasks if t.keep]
            values = client.gather([futures[k] for k in keep])
            return dict(zip(keep, values, strict=True))
        except BaseException:
            client.cancel(list(futures.values()), force=True)
            raise
        finally:
            client.close()
