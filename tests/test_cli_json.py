"""`--json` on every command that reports something: one JSON object on stdout, errors
still one line on stderr with a non-zero exit. In-process (`assistant.cli.main`)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.daemon import lock
from assistant.ingest.sources.synthetic import synthetic_bars
from store import bars as store_bars
from store import symbols
from store.db import immediate, open_db
from tests.daemon_fixture import env
from tests.test_alerts import Receiver, write_config


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    """The exit code, stdout parsed as ONE JSON object, and stderr."""
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    value = json.loads(out.out) if out.out.strip() else None
    assert value is None or isinstance(value, dict), out.out
    return code, value, out.err


def test_watch_add_and_remove(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, got, _ = run(capsys, "watch", "add", "AAPL", "ZZZZ", "--json")
    assert code == 0
    assert got == {
        "added": ["AAPL", "ZZZZ"],
        "already_watched": [],
        "not_in_source": ["ZZZZ"],
        "note": got["note"],
        "did_you_mean": {},  # no watched-for symbol is close to ZZZZ
    }
    assert "sample source has no ZZZZ" in got["note"]
    code, got, _ = run(capsys, "watch", "add", "AAPL", "--json")
    assert code == 0 and got["added"] == [] and got["already_watched"] == ["AAPL"]
    code, got, _ = run(capsys, "watch", "remove", "ZZZZ", "--json")
    assert code == 0 and got == {"removed": ["ZZZZ"], "history_kept": True}
    code, got, err = run(capsys, "watch", "remove", "MSFT", "--json")
    assert code == 1 and got is None
    assert err.strip().splitlines() == ["error: not on the watchlist: MSFT"]


def test_check_ok_then_failed(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "add", "AAPL"]) == 0
    code, got, err = run(capsys, "check", "--json")
    assert code == 0 and err == ""
    assert got["ok"] is True and got["failed"] == []
    assert got["settings"]["status"] == "ok"
    assert got["database"]["status"] == "ok" and got["database"]["bytes"] > 0
    assert got["database"]["problems"] == []
    assert got["daemon"] == {"running": False, "pid": None}

    (home / "config.toml").write_text("[models]\nepochs = 0\n")
    code, got, err = run(capsys, "check", "--json")
    assert code == 1 and got["ok"] is False and got["failed"] == ["settings"]
    assert got["settings"]["status"] == "failed" and "epochs" in got["settings"]["error"]
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: settings failed")


def test_backup(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "add", "AAPL"]) == 0
    target = tmp_path / "copy.db"
    code, got, _ = run(capsys, "backup", str(target), "--json")
    assert code == 0
    assert got == {
        "source": str(home / "assistant.db"),
        "target": str(target),
        "bytes": target.stat().st_size,
        "quick_check": "ok",
    }
    code, got, err = run(capsys, "backup", str(target), "--json")  # exists, no --force
    assert code == 1 and got is None and len(err.strip().splitlines()) == 1


def test_stop_without_a_daemon(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "add", "AAPL"]) == 0  # a home that exists (a missing one is refused)
    code, got, _ = run(capsys, "stop", "--json")
    assert code == 0 and got == {"stopped": False, "pid": None}


@pytest.mark.slow
def test_start_then_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in env().items():
        if k.startswith("ASSISTANT_"):
            monkeypatch.setenv(k, v)
    home = tmp_path / "home"
    assert main(["--home", str(home), "watch", "add", "AAPL"]) == 0  # start needs a home
    try:
        code, got, _ = run(capsys, "--home", str(home), "start", "--json")
        assert code == 0
        pid = lock.holder(home)
        assert got == {
            "started": True,
            "pid": pid,
            "mode": "live",
            "log": str(home / "logs" / "daemon.log"),
        }
        code, got, _ = run(capsys, "--home", str(home), "stop", "--json")
        assert code == 0 and got == {"stopped": True, "pid": pid}
        assert lock.holder(home) is None
    finally:  # a failed assertion must not leave a detached daemon behind
        if (left := lock.holder(home)) is not None:
            os.kill(left, signal.SIGKILL)


def test_alerts_test(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    receiver = Receiver()
    try:
        write_config(home, [receiver.url])
        code, got, _ = run(capsys, "alerts", "test", "--json")
        assert code == 0 and got == {"sent": True, "urls": ["json://..."]}
        assert len(receiver.got) == 1
    finally:
        receiver.close()
    refused = "json://127.0.0.1:9/"  # nothing listens on the discard port
    code, got, err = run(capsys, "alerts", "test", "--url", refused, "--json")
    assert code == 1 and got is None
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: test alert not delivered")


def test_backfill(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = open_db(home)
    try:
        symbols.add(db, ["AAA", "BBB"], "synthetic")
        for i, s in enumerate(("AAA", "BBB")):
            with immediate(db):
                store_bars.upsert(db, s, synthetic_bars(400, seed=20 + i), "synthetic")
    finally:
        db.close()
    code, got, _ = run(capsys, "backfill", "--sessions", "4", "--json")
    assert code == 0
    assert got["sessions"] == 4 and got["from"] < got["to"]
    assert got["calls"] == got["new"] > 0
    assert got["verified"] == got["directional"] + got["flat"]
    assert 0 <= got["hits"] <= got["directional"]
    code, again, _ = run(capsys, "backfill", "--sessions", "4", "--json")
    assert code == 0 and again["new"] == 0 and again["calls"] == got["calls"]
