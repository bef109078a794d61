"""`assistant demo` on a home whose replay already finished starts a fresh replay."""

from __future__ import annotations

from assistant.cli.ui import DEMO_LOG, restart_finished_demo
from store import jobs
from store.db import open_db


def _demo_home(home, state: str, *, with_log: bool = True):
    db = open_db(home)
    run = jobs.start(db, "replay", scheduled_for="2018-01-02")
    if state == "finished":
        jobs.finish(db, run, "ok", "replay finished at 2018-12-31")
    else:
        jobs.finish(db, run, "interrupted", "stopped before session 2018-06-01")
    db.close()
    (home / "models" / "xgboost-v1").mkdir(parents=True)
    if with_log:
        (home / DEMO_LOG).write_text("demo daemon log\n")


def test_a_finished_demo_replay_is_cleared_for_a_fresh_one(home, capsys):
    _demo_home(home, "finished")
    restart_finished_demo(home)
    assert not (home / "assistant.db").exists() and not (home / "models").exists()
    assert "starting a fresh one" in capsys.readouterr().err
    assert (home / DEMO_LOG).exists()  # the log is kept


def test_an_unfinished_replay_resumes_and_a_non_demo_home_is_never_touched(home, tmp_path):
    _demo_home(home, "stopped")
    restart_finished_demo(home)
    assert (home / "assistant.db").exists() and (home / "models" / "xgboost-v1").exists()
    other = tmp_path / "real-home"
    _demo_home(other, "finished", with_log=False)
    restart_finished_demo(other)
    assert (other / "assistant.db").exists() and (other / "models" / "xgboost-v1").exists()


def test_the_readme_screenshot_is_rendered_by_the_real_app(db, home, tmp_path):
    import subprocess
    import sys

    from tests.tui_fixture import fill

    fill(db)
    out = tmp_path / "dash.svg"
    done = subprocess.run(
        [sys.executable, "-m", "tui", "--home", str(home), "--screenshot", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    svg = out.read_text()
    assert svg.startswith("<svg") and "Watchlist" in svg and "Pending" in svg and "AAPL" in svg
