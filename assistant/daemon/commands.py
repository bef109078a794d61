"""Queued commands, executed in order: each row ends `done` with a result or `failed` with an error.

Arguments and results are typed (vocab.commands parses the row's JSON): `symbols` for
every kind that takes them (none = the whole watchlist); `kinds`, `reason` and
`scheduled` (queued by the drift check, not by a user) for `retrain`. `retrain` always
retrains the watchlist's models (they are global; a model trained on one symbol would
serve only it): its `symbols` say which symbols asked, and are checked. It goes to the training worker and its row finishes
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
from datetime import date

from assistant.daemon import jobs
from assistant.daemon.worker import TrainingWorker, TrainRequest
from assistant.errors import AssistantError
from store import commands
from store.db import cannot_write
from store.symbols import validate_symbol
from vocab import commands as schema

log = logging.getLogger("assistant.daemon")


class _Pending:
    """The command's row is finished later (by the training worker)."""


PENDING = _Pending()


def _symbols(symbols: tuple[str, ...]) -> list[str] | None:
    """The command's symbols, validated; None when it names none (meaning: all)."""
    return [validate_symbol(s) for s in symbols] or None


class CommandRunner:
    def __init__(
        self,
        ctx: jobs.Context,
        worker: TrainingWorker,
        as_of: Callable[[], date | None],
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

    def execute(self, cmd: commands.Claimed) -> None:
        kind, cid = cmd.kind, cmd.id
        try:
            if cmd.command is None:
                raise AssistantError(cmd.error or "command arguments do not parse")
            result = self._run(cmd.command, cid)
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
                if not cannot_write(failed, self.ctx.home):
                    raise
                self._unfinished[cid] = error[:500]
            if cannot_write(exc, self.ctx.home):
                raise  # the loop waits for room
            return
        if not isinstance(result, _Pending):
            commands.finish(self.ctx.db, cid, result=result)
            log.info("command %d %s done", cid, kind)
        self.served += 1

    def _run(self, command: schema.Command, cid: int) -> schema.Result | _Pending:
        """Run one command; its result, or PENDING when the training worker finishes it."""
        match command:
            case schema.WatchAdd():
                return self.watch_add(command, cid)
            case schema.WatchRemove():
                names = _symbols(command.symbols) or []
                removed = jobs.watch_remove(self.ctx, names)
                if not removed:
                    raise AssistantError(f"not on the watchlist: {', '.join(names)}")
                return schema.Unwatched(tuple(removed))
            case schema.Collect():
                symbols, until = _symbols(command.symbols), self._as_of_or_fail()
                return schema.Collected(
                    self._job(
                        "collect", cid, lambda p: jobs.collect(self.ctx, p, symbols, until=until)
                    )
                )
            case schema.Predict():
                symbols, as_of = _symbols(command.symbols), self._as_of_or_fail()
                return schema.Predicted(
                    self._job("cycle", cid, lambda p: jobs.cycle(self.ctx, p, symbols, as_of=as_of))
                )
            case schema.Verify():
                as_of = self._as_of_or_fail()
                return schema.Verified(
                    self._job("verify", cid, lambda p: jobs.verify(self.ctx, p, as_of=as_of))
                )
            case schema.Retrain():
                return self.retrain(command, cid)

    def _job(
        self, name: str, cid: int, fn: Callable[[jobs.Progress], tuple[object, str]]
    ) -> object:
        outcome = jobs.run_job(self.ctx.db, name, fn, scheduled_for=f"command {cid}")
        if not outcome.ok:
            raise AssistantError(outcome.error or f"{name} failed")
        return outcome.result

    def watch_add(self, command: schema.WatchAdd, cid: int) -> schema.Watched:
        symbols = _symbols(command.symbols) or []
        added = jobs.watch_add(self.ctx, symbols)
        already = tuple(s for s in symbols if s not in added)
        until = self.as_of()
        if until is None and self.replaying():  # the replay collects them with its first session
            return schema.Watched(tuple(added), already)
        try:
            self._job("collect", cid, lambda p: jobs.collect(self.ctx, p, symbols, until=until))
        except AssistantError as exc:
            return schema.Watched(tuple(added), already, collected=False, collect_error=str(exc))
        return schema.Watched(tuple(added), already, collected=True)

    def retrain(self, command: schema.Retrain, cid: int) -> _Pending:
        kinds = None if command.kinds is None else list(command.kinds)
        asked = _symbols(command.symbols)  # who asked: the watchlist's models are what retrains
        reason = (command.reason or "requested")[:200]
        if asked and not command.reason:
            reason = f"requested for {', '.join(asked)}"
        as_of = self._as_of_or_fail()
        # Retrains asked meanwhile for the same kinds (r on two symbols, a drift check) are
        # all served by this one training: their rows run and finish with it. The training
        # counts as scheduled (a replay's end may cancel it) only if no user asked for it.
        if command.scheduled:  # a drift check's: not while the trainings kill the daemon
            dying = jobs.trainings_die(self.ctx.db)
            if dying:
                raise AssistantError(dying)
        alike = commands.claim_retrains_like(self.ctx.db, command.kinds)
        scheduled = command.scheduled and all(s for _, s in alike)
        request = TrainRequest(reason, kinds, as_of, (cid, *(i for i, _ in alike)), scheduled)
        self.worker.submit(request)
        return PENDING

    def _as_of_or_fail(self) -> date | None:
        as_of = self.as_of()
        if as_of is None and self.replaying():
            raise AssistantError("the replay has not started yet; try again in a moment")
        return as_of
