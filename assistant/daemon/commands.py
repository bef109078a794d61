"""Queued commands, executed in order: each row ends `done` with a result or `failed` with an error.

Arguments (JSON on the row): `symbols` (a list) or `symbol` (one) for every kind that
takes symbols (none = the whole watchlist); `kinds` for `retrain`; `reason` for
`retrain` (drift writes why). `retrain` always retrains the watchlist's models (they are
global; a model trained on one symbol would serve only it): its `symbols` say which
symbols asked, and are checked. It goes to the training worker and its row finishes
when training ends; everything else runs on the loop thread. One training runs at a
time: while the worker trains, retrain rows stay queued (other commands go past them),
and the first one claimed takes every queued retrain for the same kinds with it. In replay,
commands act as of the simulated session, never beyond it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from assistant.daemon import jobs
from assistant.daemon.worker import TrainingWorker, TrainRequest
from assistant.errors import AssistantError
from store import commands
from store.db import is_disk_full
from store.symbols import validate_symbol

log = logging.getLogger("assistant.daemon")

PENDING = object()  # the command's row is finished later (by the training worker)


def _symbols(args: dict[str, Any]) -> list[str] | None:
    """The command's symbols, validated; None when it names none (meaning: all)."""
    raw = args.get("symbols", args.get("symbol"))
    if raw in (None, [], ""):
        return None
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise AssistantError("`symbols` must be a list of tickers")
    return [validate_symbol(s) for s in items]


def _required_symbols(args: dict[str, Any]) -> list[str]:
    symbols = _symbols(args)
    if symbols is None:
        raise AssistantError("this command needs `symbols`")
    return symbols


class CommandRunner:
    def __init__(
        self,
        ctx: jobs.Context,
        worker: TrainingWorker,
        as_of: Callable[[], str | None],
        replaying: Callable[[], bool] = lambda: False,
        *,
        batch: int = 50,
        budget_s: float = 1.0,
    ):
        self.ctx, self.worker, self.as_of, self.replaying = ctx, worker, as_of, replaying
        self.batch, self.budget_s = batch, budget_s
        self.served = 0
        self._unfinished: dict[int, str] = {}  # failures a full disk did not take yet

    def serve(self, stop: threading.Event) -> bool:
        """Run queued commands for up to `budget_s`; True if some are still waiting."""
        started = time.monotonic()
        while self._unfinished:  # the disk has room again (else this raises again)
            cid, error = next(iter(self._unfinished.items()))
            commands.finish(self.ctx.db, cid, error=error)
            del self._unfinished[cid]
        for _ in range(self.batch):
            if stop.is_set():
                return False
            # One training at a time: while one runs, retrains stay queued (and say so on
            # the dashboard) and the other commands go past them.
            skip = ("retrain",) if self.worker.busy else ()
            cmd = commands.claim_next(self.ctx.db, skip=skip)
            if cmd is None:
                return False
            self.execute(cmd)
            if time.monotonic() - started > self.budget_s:
                break
        return True

    def execute(self, cmd: dict[str, Any]) -> None:
        kind, args, cid = cmd["kind"], cmd["args"] or {}, cmd["id"]
        handler = getattr(self, "do_" + kind.replace(".", "_"), None)
        try:
            if cmd.get("args_error"):
                raise AssistantError(cmd["args_error"])
            if handler is None:
                raise AssistantError(f"unknown command {kind!r}")
            if not isinstance(args, dict):
                raise AssistantError("command arguments must be a JSON object")
            result = handler(args, cid)
        except Exception as exc:  # one bad command never stops the loop
            error = (
                str(exc)
                if isinstance(exc, AssistantError | ValueError)
                else f"{type(exc).__name__}: {exc}"
            )
            log.warning("command %d %s failed: %s", cid, kind, error)
            self.served += 1
            try:
                commands.finish(self.ctx.db, cid, error=error[:500])
            except Exception as failed:
                if not is_disk_full(failed, self.ctx.home):
                    raise
                self._unfinished[cid] = error[:500]
            if is_disk_full(exc, self.ctx.home):
                raise  # the loop waits for room
            return
        if result is not PENDING:
            commands.finish(self.ctx.db, cid, result=result)
            log.info("command %d %s done", cid, kind)
        self.served += 1

    def _job(self, name: str, cid: int, fn: Callable[[jobs.Progress], tuple[Any, str]]) -> Any:
        outcome = jobs.run_job(self.ctx.db, name, fn, scheduled_for=f"command {cid}")
        if not outcome.ok:
            raise AssistantError(outcome.error or f"{name} failed")
        return outcome.result

    def do_watch_add(self, args: dict[str, Any], cid: int) -> Any:
        symbols = _required_symbols(args)
        added = jobs.watch_add(self.ctx, symbols)
        result: dict[str, Any] = {"added": added, "already": [s for s in symbols if s not in added]}
        until = self.as_of()
        if until is None and self.replaying():
            return result  # the replay collects them with its first session
        try:
            self._job("collect", cid, lambda p: jobs.collect(self.ctx, p, symbols, until=until))
            result["collected"] = True
        except AssistantError as exc:
            result["collected"] = False
            result["collect_error"] = str(exc)
        return result

    def do_watch_remove(self, args: dict[str, Any], cid: int) -> Any:
        symbols = _required_symbols(args)
        removed = jobs.watch_remove(self.ctx, symbols)
        if not removed:
            raise AssistantError(f"not on the watchlist: {', '.join(symbols)}")
        return {"removed": removed}

    def do_collect(self, args: dict[str, Any], cid: int) -> Any:
        symbols, until = _symbols(args), self._as_of_or_fail()
        return self._job("collect", cid, lambda p: jobs.collect(self.ctx, p, symbols, until=until))

    def do_predict(self, args: dict[str, Any], cid: int) -> Any:
        symbols, as_of = _symbols(args), self._as_of_or_fail()
        return self._job("cycle", cid, lambda p: jobs.cycle(self.ctx, p, symbols, as_of=as_of))

    def do_verify(self, args: dict[str, Any], cid: int) -> Any:
        as_of = self._as_of_or_fail()
        return self._job("verify", cid, lambda p: jobs.verify(self.ctx, p, as_of=as_of))

    def do_retrain(self, args: dict[str, Any], cid: int) -> Any:
        kinds = args.get("kinds")
        if kinds is not None and (
            not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds)
        ):
            raise AssistantError("`kinds` must be a list of model kinds")
        asked = _symbols(args)  # who asked: the watchlist's models are what retrains
        reason = str(args.get("reason") or "requested")[:200]
        if asked and not args.get("reason"):
            reason = f"requested for {', '.join(asked)}"
        scheduled = reason.startswith("drift")  # queued by the daemon's drift check
        as_of = self._as_of_or_fail()
        # Retrains asked meanwhile for the same kinds (r on two symbols, a drift check) are
        # all served by this one training: their rows run and finish with it.
        alike = commands.claim_retrains_like(self.ctx.db, kinds)
        scheduled = scheduled and all(why == "drift" for _, why in alike)
        request = TrainRequest(reason, kinds, as_of, (cid, *(i for i, _ in alike)), scheduled)
        self.worker.submit(request)
        return PENDING

    def _as_of_or_fail(self) -> str | None:
        as_of = self.as_of()
        if as_of is None and self.replaying():
            raise AssistantError("the replay has not started yet; try again in a moment")
        return as_of
