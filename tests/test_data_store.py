"""The store as a user meets it: private files, WAL, the schema guard, unusable homes, and config."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from assistant import config
from assistant.cli import main
from assistant.errors import AssistantError
from assistant.ingest.sources.synthetic import synthetic_bars
from store import bars, symbols
from store.db import StoreError, immediate, open_db


def test_new_home_is_private_and_database_uses_wal(home):
    db = open_db(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "assistant.db").stat().st_mode) == 0o600
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    tables = set(db.table_names())
    assert {
        "symbols",
        "bars",
        "models",
        "predictions",
        "regimes",
        "weights",
        "job_runs",
        "commands",
        "daemon",
    } <= tables
    db.close()


def test_newer_schema_is_refused_with_a_clear_message(home, capsys):
    db = open_db(home)
    db.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('trading-assistant', 'm999_from_the_future', '2030-01-01')"
    )
    db.conn.commit()
    db.close()
    assert main(["--home", str(home), "watch", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the database was written by a newer version") and "m999" in err


def test_database_that_is_not_sqlite_is_one_error_line_and_left_alone(home, capsys):
    home.mkdir(mode=0o700)
    junk = b"these are my notes, not a database\n" * 100
    (home / "assistant.db").write_bytes(junk)
    assert main(["--home", str(home), "watch", "add", "AAPL"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a usable SQLite database" in err
    assert (home / "assistant.db").read_bytes() == junk


def test_home_that_cannot_be_created_is_one_error_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for home in (blocker, blocker / "home"):
        assert main(["--home", str(home), "watch", "list"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and str(home) in err
    with pytest.raises(StoreError):
        open_db(blocker / "home")


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root writes through chmod 0500; the file-as-home variant covers this"
)
def test_read_only_home_is_one_error_line(tmp_path, capsys):
    home = tmp_path / "ro"
    home.mkdir(mode=0o500)
    assert main(["--home", str(home), "watch", "list"]) == 1
    assert "not writable" in capsys.readouterr().err


def test_upsert_never_replaces_a_final_bar_with_a_provisional_one(db):
    symbols.add(db, ["AAPL"], "yahoo")
    frame = synthetic_bars(5)
    with immediate(db):
        assert bars.upsert(db, "AAPL", frame, "yahoo").added == 5
    later = frame.copy()
    later["close"] *= 1.1
    later["provisional"] = 1
    with immediate(db):
        bars.upsert(db, "AAPL", later, "yahoo")
    assert bars.load(db, "AAPL")["close"].tolist() == pytest.approx(frame["close"].tolist())
    assert bars.load(db, "AAPL", end=f"{frame.index[2]:%Y-%m-%d}").shape[0] == 3


def test_bars_need_a_symbol_row(db):
    with pytest.raises(sqlite3.IntegrityError), immediate(db):
        bars.upsert(db, "NOPE", synthetic_bars(3), "csv")
    assert bars.count(db, "NOPE") == 0


def test_config_file_and_environment_overrides(home):
    home.mkdir()
    (home / "config.toml").write_text(
        '[collect]\nsource = "yahoo"\nrefetch_sessions = 3\njump_threshold = 1\n'
    )
    s = config.load(
        home,
        environ={"ASSISTANT_COLLECT_REFETCH_SESSIONS": "7", "ASSISTANT_MODELS_HORIZONS": "1,5"},
    )
    assert s.collect.source == "yahoo"
    assert s.collect.refetch_sessions == 7  # environment beats the file
    assert s.collect.jump_threshold == 1.0 and isinstance(s.collect.jump_threshold, float)
    assert s.models.horizons == (1, 5)


@pytest.mark.parametrize(
    "text,env,message",
    [
        ('[collect]\nsourse = "yahoo"\n', {}, "unknown key 'sourse'"),
        ("[colect]\n", {}, "unknown section [colect]"),
        ('[collect]\nrefetch_sessions = "five"\n', {}, "should be int"),
        ("[collect\n", {}, "not valid TOML"),
        ("", {"ASSISTANT_COLLECT_REFETCH_SESSIONS": "five"}, "is not a valid value"),
    ],
)
def test_bad_config_is_a_clear_error(home, text, env, message):
    home.mkdir()
    (home / "config.toml").write_text(text)
    with pytest.raises(AssistantError, match=message.replace("[", r"\[")):
        config.load(home, environ=env)


def test_config_command_prints_effective_settings(home, capsys, monkeypatch):
    home.mkdir()
    (home / "config.toml").write_text("[collect]\nhistory_years = 3\n")
    monkeypatch.setenv("ASSISTANT_COLLECT_SOURCE", "yahoo")
    assert main(["--home", str(home), "config"]) == 0
    out = capsys.readouterr().out
    assert f"# config file: {home / 'config.toml'} (read)" in out
    assert (
        "ASSISTANT_COLLECT_SOURCE" in out
        and 'source = "yahoo"' in out
        and "history_years = 3" in out
    )
