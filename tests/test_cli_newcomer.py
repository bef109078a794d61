"""A newcomer's first week at the command line: no dead ends, no tracebacks, no silent
misreadings (issue 31). In-process through `assistant.cli.main` where the output is the
point; a real subprocess and a real SIGINT where the process is."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from assistant.cli import build_parser, main
from tests.daemon_fixture import ROOT, cli, env


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def one_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# -- bare `assistant` -------------------------------------------------------------------


def test_bare_assistant_prints_the_help(capsys):
    rc, out, err = run(capsys)
    # 2: no command ran (a script with an empty command fails), but what it can do is shown
    assert rc == 2 and err == ""
    assert out.startswith("usage: assistant") and "watch" in out and "demo" in out
    assert out == build_parser().format_help()


# -- --home before or after the subcommand ------------------------------------------------


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for action in subs:
        for name, child in action.choices.items():
            yield from _leaves(child, (*path, name))


def test_every_subcommand_takes_home_after_it_too():
    parser = build_parser()
    leaves = list(_leaves(parser))
    assert len(leaves) > 25 and ("status",) in [p for p, _ in leaves]
    for path, leaf in leaves:
        assert "--home" in leaf._option_string_actions, path
    args = parser.parse_args(["tui", "--home", "/x"])
    assert args.home == Path("/x")
    args = parser.parse_args(["--home", "/a", "watch", "add", "--home", "/b", "AAPL"])
    assert args.home == Path("/b")  # the nearer one wins
    args = parser.parse_args(["--home", "/a", "status"])
    assert args.home == Path("/a")  # one given before is not reset by the subcommand's


def test_status_and_watch_accept_home_after_the_command(tmp_path, capsys):
    home = tmp_path / "h"
    rc, out, _ = run(capsys, "watch", "add", "--home", str(home), "AAPL")
    assert rc == 0 and "added: AAPL" in out
    rc, out, err = run(capsys, "status", "--home", str(home))
    assert rc == 0 and out.startswith("daemon: not running"), err
    rc, out, _ = run(capsys, "watch", "list", "--home", str(home), "--json")
    assert rc == 0 and '"AAPL"' in out


# -- a home that does not exist -------------------------------------------------------------

READ_ONLY = [
    ("status",),
    ("report",),
    ("watch", "list"),
    ("predictions",),
    ("check",),
    ("train", "--models", "markov"),
    ("predict",),
    ("verify",),
    ("backtest", "--models", "markov"),
    ("stop",),
    ("start",),
    ("tui",),
    ("watch", "remove", "AAPL"),
    ("backup", "copy.db"),
]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_mistyped_home_is_refused_and_not_created(tmp_path, capsys, command):
    missing = tmp_path / "hmoe"
    rc, out, err = run(capsys, "--home", str(missing), *command)
    line = one_error(err)
    assert rc == 1 and out == ""
    assert line.startswith(f"error: no data home at {missing} (mistyped --home")
    assert not missing.exists()


def test_a_mistyped_home_in_the_environment_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "typo"))
    rc, _, err = run(capsys, "report")
    assert rc == 1 and "no data home at" in one_error(err) and "$ASSISTANT_HOME" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("--home", "", "watch", "add", "AAPL"),
        ("watch", "add", "AAPL", "--home", " "),
        ("--home", "", "status"),
    ],
    ids=" ".join,
)
def test_an_empty_home_is_refused_not_the_current_directory(tmp_path, capsys, monkeypatch, argv):
    """`--home "$DIR"` with DIR unset: the empty path was the current directory, so
    `watch add` made a home (assistant.db, logs/) wherever the user stood."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSISTANT_COLLECT_SOURCE", "sample")
    rc, out, err = run(capsys, *argv)
    assert rc == 1 and out == ""
    assert one_error(err).startswith("error: --home is empty")
    assert list(tmp_path.iterdir()) == []


def test_the_demo_home_option_refuses_an_empty_path_too():
    # not run: before the fix `demo --home ""` replayed a demo into the current directory
    from assistant.cli import build_parser
    from assistant.cli.common import home_option

    demo = build_parser()._subparsers._group_actions[0].choices["demo"]
    assert {a.type for a in demo._actions if "--home" in a.option_strings} == {home_option}


def test_a_blank_home_in_the_environment_is_the_default(tmp_path, monkeypatch):
    from assistant import config

    monkeypatch.setenv("ASSISTANT_HOME", "  ")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert config.default_home() == tmp_path / "xdg" / "trading-assistant"


@pytest.mark.parametrize(
    "command",
    [("watch", "add", "AAPL"), ("collect", "--until", "2004-09-01")],
    ids=" ".join,
)
def test_the_commands_that_create_a_home_say_so(tmp_path, capsys, command, monkeypatch):
    monkeypatch.setenv("ASSISTANT_COLLECT_SOURCE", "sample")
    home = tmp_path / "new"
    rc, _, err = run(capsys, "--home", str(home), *command)
    assert rc == 0 and f"created the data home {home}" in err and home.is_dir()
    # once made, it is not announced again
    rc, _, err = run(capsys, "--home", str(home), *command)
    assert "created the data home" not in err


def test_import_creates_its_home_and_says_so(tmp_path, capsys):
    home = tmp_path / "new"
    csv = _csv(tmp_path / "AAPL.csv", "utf-8")
    rc, out, err = run(capsys, "--home", str(home), "import", str(csv))
    assert rc == 0 and "AAPL 3 rows" in out
    assert f"created the data home {home}" in err


# -- dates: one parser, ISO only, one line --------------------------------------------------

DATE_OPTIONS = [
    ("train", "--as-of"),
    ("backtest", "--from"),
    ("backtest", "--to"),
    ("predict", "--as-of"),
    ("verify", "--as-of"),
    ("collect", "--until"),
    ("macro", "--until"),
    ("daemon", "--replay", "--from"),
    ("start", "--replay", "--from"),
    ("demo", "--from"),
]
BAD_DATES = ["2013-13-01", "2012-13-01", "2013-02-30", "yesterday", "01/03/2013", "20130103", ""]


@pytest.mark.parametrize("option", DATE_OPTIONS, ids=" ".join)
@pytest.mark.parametrize("text", BAD_DATES)
def test_every_date_option_refuses_a_non_iso_date_in_one_line(tmp_path, capsys, option, text):
    home = tmp_path / "home"
    home.mkdir()
    rc, out, err = run(capsys, "--home", str(home), *option, text)
    assert rc == 1 and out == ""
    assert one_error(err) == f"error: {option[-1]} {text!r} is not a date (expected YYYY-MM-DD)"
    assert os.listdir(home) == []  # nothing opened, nothing written


def test_an_iso_date_is_read_as_written():
    from vocab.dates import iso_date

    parser = build_parser()
    assert parser.parse_args(["predict", "--as-of", "2013-01-03"]).as_of == date(2013, 1, 3)
    assert parser.parse_args(["backtest", "--from", "2012-02-29"]).start == date(2012, 2, 29)
    assert iso_date("2013-01-03").isoformat() == "2013-01-03"
    for text in ("01/03/2013", "2013-1-3", "2013-W01-4", "20130103", "２０１３-01-03"):
        with pytest.raises(ValueError):
            iso_date(text)


def test_a_slashed_date_records_no_calls(tmp_path, capsys, monkeypatch):
    """Before: `predict --as-of 01/03/2013` predicted as of 2013-01-03 and recorded 18 calls."""
    monkeypatch.setenv("ASSISTANT_COLLECT_SOURCE", "sample")
    home = tmp_path / "home"
    assert run(capsys, "--home", str(home), "watch", "add", "^GSPC")[0] == 0
    assert run(capsys, "--home", str(home), "collect", "--until", "2013-01-10", "^GSPC")[0] == 0
    rc, out, err = run(capsys, "--home", str(home), "predict", "--as-of", "01/03/2013")
    assert rc == 1 and out == "" and "is not a date" in one_error(err)
    from store.db import open_db

    db = open_db(home)
    try:
        assert db["predictions"].count == 0
    finally:
        db.close()


# -- import: a cp1252 file from Excel -------------------------------------------------------


def _csv(path: Path, encoding: str) -> Path:
    path.write_bytes(
        (
            "Date,Open,High,Low,Close,Volume,Börse\n"
            "2012-01-03,10,11,9,10.5,1000,Xetra\n"
            "2012-01-04,10.5,11,10,10.8,1000,Xetra\n"
            "2012-01-05,10.8,11.2,10.6,11,1000,Xetra\n"
        ).encode(encoding)
    )
    return path


def test_a_cp1252_file_says_how_to_fix_it_and_imports_with_encoding(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    csv = _csv(tmp_path / "AAPL.csv", "cp1252")
    rc, out, err = run(capsys, "--home", str(home), "import", str(csv))
    line = one_error(err)
    assert rc == 1 and out == ""
    assert "not UTF-8 text (byte 0xf6 at offset 33)" in line
    assert 'save it from Excel as "CSV UTF-8", or pass --encoding cp1252' in line
    rc, out, err = run(capsys, "--home", str(home), "import", "--encoding", "cp1252", str(csv))
    assert rc == 0 and "AAPL 3 rows (2012-01-03 … 2012-01-05), 3 added" in out, err


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_output_to_a_narrow_encoding_is_not_a_traceback(tmp_path, encoding):
    """A terminal or file that is not UTF-8 (PYTHONIOENCODING=ascii, a Latin-1 locale): the
    import's summary line ('2012-01-03 … 2012-01-05') ended in UnicodeEncodeError, exit 1,
    after the rows were stored."""
    csv = _csv(tmp_path / "AAPL.csv", "utf-8")
    ran = subprocess.run(
        [sys.executable, "-m", "assistant", "--home", str(tmp_path / "home"), "import", str(csv)],
        cwd=ROOT,
        env={**env(), "PYTHONIOENCODING": encoding},
        capture_output=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr.decode(errors="replace")
    assert b"AAPL 3 rows (2012-01-03 ? 2012-01-05), 3 added" in ran.stdout


def test_an_unknown_encoding_is_one_line(tmp_path, capsys):
    home = tmp_path / "home"
    csv = _csv(tmp_path / "AAPL.csv", "utf-8")
    for name in ("klingon", "base64"):
        rc, _, err = run(capsys, "--home", str(home), "import", "--encoding", name, str(csv))
        assert rc == 1 and f"--encoding {name!r}: no such text encoding" in one_error(err)
    assert not home.exists()


def test_a_bom_is_skipped_with_encoding_utf8(tmp_path, capsys):
    csv = tmp_path / "AAPL.csv"
    csv.write_bytes(b"\xef\xbb\xbf" + _csv(tmp_path / "x.csv", "utf-8").read_bytes())
    rc, out, err = run(
        capsys, "--home", str(tmp_path / "h"), "import", "--encoding", "utf8", str(csv)
    )
    assert rc == 0 and "AAPL 3 rows" in out, err


# -- watch add: a typo of a symbol the source knows -----------------------------------------


def test_watch_add_suggests_the_close_match_the_sample_knows(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ASSISTANT_COLLECT_SOURCE", "sample")
    home = tmp_path / "home"
    rc, out, _ = run(capsys, "--home", str(home), "watch", "add", "APPL", "ZZZZ", "GOOG")
    assert rc == 0
    lines = out.splitlines()
    assert "did you mean AAPL? (`assistant watch remove APPL` takes APPL off" in out
    assert not [line for line in lines if "ZZZZ?" in line or "GOOG?" in line]
    monkeypatch.setenv("ASSISTANT_COLLECT_SOURCE", "yahoo")  # it knows no list of symbols
    rc, out, _ = run(capsys, "--home", str(home), "watch", "add", "MSTF")
    assert rc == 0 and "did you mean" not in out


def test_watch_add_on_yahoo_gives_a_share_class_its_dash(tmp_path, capsys, monkeypatch):
    """BRK.B, as brokers and most sites write it: Yahoo has no bars under that name (it is
    BRK-B), so every collect failed with "no data". Exchange suffixes stay as they are."""
    monkeypatch.setenv("ASSISTANT_COLLECT_SOURCE", "yahoo")
    home = tmp_path / "home"
    rc, out, _ = run(capsys, "--home", str(home), "watch", "add", "BRK.B", "7203.T", "VOD.L")
    assert rc == 0
    assert "did you mean BRK-B? (`assistant watch remove BRK.B` takes BRK.B off" in out
    assert out.count("did you mean") == 1
    rc, out, _ = run(capsys, "--home", str(home), "watch", "add", "HEI.A", "--json")
    assert json.loads(out)["did_you_mean"] == {"HEI.A": "HEI-A"}


# -- SIGINT: exit 130, no abort -------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_during_train_exits_130_without_an_abort(tmp_path):
    """Before: `interrupted`, then `terminate called without an active exception`, exit 134
    (the torch kinds' training threads were still running when the interpreter shut down)."""
    home = tmp_path / "home"
    e = env(ASSISTANT_MODELS_KINDS="markov,lstm,gru")
    for args in (["watch", "add", "^GSPC", "AAPL"], ["collect"]):
        done = subprocess.run(
            [sys.executable, "-m", "assistant", "--home", str(home), *args],
            cwd=ROOT,
            env=e,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "--home", str(home), "train"],
        cwd=ROOT,
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    try:
        # the observable point: a torch kind is in its epochs (its progress line)
        for line in proc.stderr:
            seen.append(line)
            if "epoch" in line and line.startswith(("lstm", "gru")):
                break
        else:
            raise AssertionError("train ended before a torch epoch: " + "".join(seen))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(seen) + err
    assert proc.returncode == 130, err
    assert err.rstrip().endswith("interrupted")
    assert "terminate called" not in err and "Aborted" not in err and "Traceback" not in err


# -- `start` on a home whose data cannot be current -------------------------------------------


def _sample_home_with_calls(tmp_path, capsys, monkeypatch) -> Path:
    """A home on the offline sample, collected to its end (2013-03-01), with the rule
    calls made on its last bar: their targets lie past anything the sample can bring."""
    monkeypatch.setenv("ASSISTANT_COLLECT_SOURCE", "sample")
    monkeypatch.setenv("ASSISTANT_COLLECT_HISTORY_YEARS", "2")
    home = tmp_path / "home"
    assert run(capsys, "--home", str(home), "watch", "add", "^GSPC")[0] == 0
    assert run(capsys, "--home", str(home), "collect", "^GSPC")[0] == 0
    rc, _, err = run(capsys, "--home", str(home), "predict", "--json")
    assert rc == 0, err
    return home


def test_calls_the_sample_cannot_bring_an_outcome_for_are_not_expired(
    tmp_path, capsys, monkeypatch
):
    home = _sample_home_with_calls(tmp_path, capsys, monkeypatch)
    rc, out, _ = run(capsys, "--home", str(home), "verify", "--as-of", "2014-01-02", "--json")
    import json

    report = json.loads(out)
    assert rc == 0 and report["pending"] >= 3
    assert report["expired"] == 0 and report["verified"] == 0  # before: expired 3, pending 0
    # A source that keeps bringing bars: a call whose bar never came is given up on, as before
    monkeypatch.setenv("ASSISTANT_COLLECT_SOURCE", "yahoo")
    rc, out, _ = run(capsys, "--home", str(home), "verify", "--as-of", "2014-01-02", "--json")
    after = json.loads(out)
    assert after["expired"] == report["pending"] and after["pending"] == 0


class _Worker:
    busy = False
    completed = 0

    def __init__(self) -> None:
        self.sent: list[object] = []

    def submit(self, request: object) -> None:
        self.sent.append(request)


class _Host:
    """What the live driver's retrain decision reads of its loop: the store, the
    settings, the worker it submits to, and the clock (injected)."""

    def __init__(self, db, now: datetime) -> None:
        from assistant import config

        self.db, self.settings, self.worker = db, config.Settings(), _Worker()
        self.now = lambda: now


def test_a_scheduled_retrain_counts_from_the_last_training(db):
    from assistant.daemon.live_driver import LiveDriver
    from store import registry

    never = _Host(db, datetime.now(UTC))
    LiveDriver(never)._retrain_if_due()  # type: ignore[arg-type]
    assert len(never.worker.sent) == 1  # nothing trained yet: due at once, as before

    registry.register(  # what `assistant train` leaves (no "retrain" job run)
        db,
        model_id="markov-1",
        kind="markov",
        version=1,
        symbols=["^GSPC"],
        horizons=[1],
        ranges={"train": ("2010-01-04", "2012-12-31")},
        feature_hash="f",
        metrics={},
        artifact_path="models/markov-1",
    )
    trained = datetime.fromisoformat(registry.get(db, "markov-1")["trained_at"])
    every = int(never.settings.schedule.retrain_every_days)
    soon = _Host(db, trained + timedelta(minutes=5))
    LiveDriver(soon)._retrain_if_due()  # type: ignore[arg-type]
    assert soon.worker.sent == []  # before: a full retrain "every 7 days" 5 minutes later
    due = _Host(db, trained + timedelta(days=every))
    LiveDriver(due)._retrain_if_due()  # type: ignore[arg-type]
    assert len(due.worker.sent) == 1 and f"every {every} days" in str(due.worker.sent[0])


@pytest.mark.slow
def test_start_on_the_offline_sample_says_what_works(tmp_path):
    from assistant.daemon import lock

    home = tmp_path / "home"
    home.mkdir()
    try:
        out = cli(home, "start")
        assert out.returncode == 0, out.stderr
        assert "daemon started" in out.stdout
        note = out.stderr.strip()
        assert note.startswith("note: this home's source is the offline sample, whose history ")
        assert "ends on 2013-03-01" in note and "`assistant start --replay`" in note
        assert "`assistant demo`" in note and len(note.splitlines()) == 1
    finally:
        if (pid := lock.holder(home)) is not None:
            assert cli(home, "stop").returncode == 0 or os.kill(pid, signal.SIGKILL)
