"""`assistant demo` on a home whose replay already finished starts a fresh replay."""

from __future__ import annotations

import pytest

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


@pytest.mark.slow  # the real app in its own process
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


# ---- what the demo's dashboard says (Pilot on a real home) ----

import re  # noqa: E402

from store import commands  # noqa: E402
from store import jobs as job_runs  # noqa: E402
from store.db import connect  # noqa: E402
from tests.tui_fixture import FIXED_NOW, fill, screen_text, settle, sync, wait_for  # noqa: E402
from tui.app import make_app  # noqa: E402
from vocab import commands as cmd  # noqa: E402

SIZE = (160, 45)


def _app(home, **kw):
    return make_app(home, clock=lambda: FIXED_NOW, poll_seconds=0.05, **kw)


def _daemon(db, **columns):
    sets = ", ".join(f"{k} = ?" for k in columns)
    with db.conn:
        db.execute(f"UPDATE daemon SET {sets} WHERE id = 1", list(columns.values()))


@sync
async def test_a_replay_starting_years_back_shows_no_stale_data(db, home):
    """The demo replays 2012 while the wall clock says years later: staleness counts
    sessions on the replay's clock, and before its first session is done there is none."""
    fill(db, end="2012-03-01")  # a replay at 2012-03-01, FIXED_NOW's wall clock in 2018
    _daemon(db, sim_date=None)  # the replay waits for its first retrain: no session done yet
    app = _app(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Watchlist (3 symbols" in screen_text(app)
        assert "STALE DATA" not in screen_text(app)
        _daemon(db, sim_date="2012-03-01")
        assert await wait_for(pilot, lambda: "simulated date 2012-03-01" in screen_text(app))
        assert "STALE DATA" not in screen_text(app)
        _daemon(db, mode="live", sim_date=None)  # a live daemon: today is the wall clock
        assert await wait_for(pilot, lambda: "STALE DATA" in screen_text(app))


@sync
async def test_a_finished_replay_says_so_and_what_to_look_at(db, home):
    fill(db)
    app = _app(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "REPLAY FINISHED" not in screen_text(app)
        _daemon(db, state="finished")
        assert await wait_for(pilot, lambda: "REPLAY FINISHED at 2018-06-29" in screen_text(app))
        text = screen_text(app)
    assert "record below is complete" in text and "In 80%" in text
    flat = re.sub(r"\s+", "", text)  # the banner wraps: compare without the line breaks
    # the home is $ASSISTANT_HOME here, so the command to paste needs no --home
    assert "p-values:`assistantreport`" in flat


@sync
async def test_the_help_says_what_q_does_in_the_demo(db, home):
    fill(db)
    for demo, said in (
        (True, "quit the demo: the demo daemon stops too"),
        (False, "keeps running"),
    ):
        app = _app(home, demo=demo)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            await settle(pilot)
            text = screen_text(app)
            assert re.search(r"q\s+quit the " + ("demo" if demo else "TUI"), text), text
            assert said in text
            await pilot.press("escape")


@sync
async def test_waiting_retrains_say_queued_and_a_burst_of_cancellations_is_one_line(db, home):
    fill(db, job=False)
    training = job_runs.start(db, "retrain", scheduled_for="every 21 sessions")
    job_runs.progress(db, training, 0.3, "xgboost")
    daemon_side = connect(home / "assistant.db")
    for _ in range(5):  # what a replay's end leaves: every waiting drift retrain cancelled
        cid = commands.enqueue(daemon_side, cmd.Retrain(reason="drift: PSI 0.4", scheduled=True))
        commands.finish(daemon_side, cid, error="cancelled: the replay ended; nothing trains")
    commands.enqueue(daemon_side, cmd.Retrain(("AAPL",)))
    daemon_side.close()
    app = _app(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        panel = text.split("Commands")[-1]
    assert "Commands · training (one at a time), 1 waiting" in text, text
    assert "retrain all (asked on AAPL) — queued (after training)" in panel, panel
    assert panel.count("cancelled") == 1, panel
    assert "5 × retrain all — cancelled: the replay ended" in panel, panel


def test_the_demo_trains_the_fast_kinds_unless_told_otherwise(tmp_path):
    """The replay's clock waits for each due retrain: the demo's default model set trains
    in seconds; `--models` (kept in the demo home's config) brings the torch kinds."""
    import json
    import os
    import subprocess
    import sys

    from assistant.cli.ui import DEMO_KINDS, prepare_demo
    from tests.cli_fixture import run_cli

    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}

    def settings(home):
        done = run_cli(home, "config", "--json", env={k: None for k in os.environ.keys() - env})
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    demo = tmp_path / "demo"
    _, cmd = prepare_demo(demo)
    shown = settings(demo)
    assert shown["models"]["kinds"] == list(DEMO_KINDS) == ["xgboost", "markov", "rules", "ranking"]
    assert shown["schedule"]["retrain_every_days"] == 21 and shown["collect"]["source"] == "sample"
    assert "--replay" in cmd
    prepare_demo(demo, kinds=["xgboost", "lstm"])
    assert settings(demo)["models"]["kinds"] == ["xgboost", "lstm"]
    prepare_demo(demo)  # kept until asked otherwise
    assert settings(demo)["models"]["kinds"] == ["xgboost", "lstm"]
    bad = subprocess.run(  # a process: had it accepted the kinds, the demo would run
        [
            sys.executable,
            "-m",
            "assistant",
            "demo",
            "--home",
            str(demo),
            "--models",
            "xgboost,nope",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 2 and "give distinct model kinds out of" in bad.stderr, bad.stderr
