"""Alerts through apprise, against a real HTTP receiver on 127.0.0.1 (apprise's json://).

The receiver is a real `http.server` in a thread on an ephemeral port: it records what
arrives, or answers 500, or hangs past the send timeout. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant import config
from assistant.alerts import events
from assistant.alerts.worker import AlertSender
from store import alerts as outbox
from store import jobs as job_runs
from store import predictions, regimes, registry
from store import symbols as watch
from store.db import open_db, utcnow
from tests.daemon_fixture import cli, query, spawn, wait_for


class Receiver:
    """An HTTP endpoint: `mode` is ok (200), fail (500) or hang (no answer for `hang_s`)."""

    def __init__(self, mode: str = "ok", hang_s: float = 30.0):
        self.mode, self.hang_s = mode, hang_s
        self.got: list[dict] = []
        self.requests = 0
        self.keys: list[str | None] = []  # each request's Idempotency-Key header
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.requests += 1
                receiver.keys.append(self.headers.get("Idempotency-Key"))
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.mode == "hang":
                    receiver.release.wait(receiver.hang_s)
                    return
                if receiver.mode == "fail":
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.got.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def titles(self) -> list[str]:
        return [m.get("title", "") for m in self.got]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def write_config(home: Path, urls: list[str], **alerts: object) -> None:
    home.mkdir(parents=True, exist_ok=True)
    lines = ["[alerts]", f"urls = {json.dumps(urls)}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in alerts.items()]
    (home / "config.toml").write_text("\n".join(lines) + "\n")


def call_row(symbol: str, as_of: str, horizon: int, direction: str) -> tuple:
    change = {"up": 1.5, "down": -1.5, "flat": 0.0}[direction]
    return (
        symbol, as_of, horizon, "rules-1", utcnow(), "2024-01-10", 100.0, change,
        100.0 + change, 98.0, 102.0, 96.0, 104.0, 0.01, 0.5, 0.2, 0.3, direction, 0.6,
        "bull", "{}",
    )  # fmt: skip


def add_calls(home: Path, rows: list[tuple]) -> list[int]:
    db = open_db(home)
    try:
        watch.add(db, sorted({r[0] for r in rows}), "sample")
        with db.conn:
            predictions.insert_many(db, rows)
        return [r[0] for r in db.execute("SELECT id FROM predictions ORDER BY id").fetchall()]
    finally:
        db.close()


# ---- config and `alerts test` (CLI subprocesses) ----


def test_alerts_test_sends_one_message(tmp_path: Path, receiver: Receiver) -> None:
    write_config(tmp_path, [receiver.url])
    r = cli(tmp_path, "alerts", "test")
    assert r.returncode == 0, r.stderr
    assert "test alert sent to 1 URL(s): json://..." in r.stdout
    assert receiver.titles() == ["trading-assistant: test alert"]
    assert str(tmp_path) in receiver.got[0]["message"]


def test_alerts_test_against_a_refusing_endpoint_fails_with_one_line(tmp_path: Path) -> None:
    failing = Receiver("fail")
    try:
        write_config(tmp_path, [failing.url])
        r = cli(tmp_path, "alerts", "test")
    finally:
        failing.close()
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: test alert not delivered: json://")
    assert "500" in lines[0]
    assert failing.requests >= 1


def test_alerts_test_gives_up_on_a_hanging_endpoint(tmp_path: Path) -> None:
    hanging = Receiver("hang", hang_s=120)
    try:
        write_config(tmp_path, [hanging.url], timeout_seconds=1)
        r = cli(tmp_path, "alerts", "test", timeout=60)  # would take 120 s without a limit
    finally:
        hanging.close()
    assert r.returncode == 1
    # the request went out (the endpoint read it whole), the answer never came
    assert r.stderr.startswith("error: test alert unconfirmed: json://...: sent, no answer")
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("urls", "extra", "said"),
    [
        (["nosuchscheme://host/token"], {}, "nosuchscheme://... is not a URL apprise can send to"),
        (["json://127.0.0.1:9/"], {"per_minute": 0}, "[alerts] per_minute = 0 is not allowed"),
        ("json://127.0.0.1:9/", {}, "[alerts] urls = 'json://127.0.0.1:9/' should be list"),
    ],
)
def test_bad_alert_settings_are_refused_at_load(
    tmp_path: Path, urls: object, extra: dict, said: str
) -> None:
    tmp_path.mkdir(exist_ok=True)
    lines = ["[alerts]", f"urls = {json.dumps(urls)}"] + [f"{k} = {v}" for k, v in extra.items()]
    (tmp_path / "config.toml").write_text("\n".join(lines) + "\n")
    r = cli(tmp_path, "alerts", "test")
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and said in r.stderr, r.stderr
    assert "token" not in r.stderr  # a URL's secret part is never echoed


def test_no_urls_is_one_error_line(tmp_path: Path) -> None:
    r = cli(tmp_path, "alerts", "test")
    assert r.returncode == 1
    assert (
        r.stderr.strip() == "error: no alert URLs: set [alerts] urls in config.toml (or pass --url)"
    )


# ---- events and the sender (real SQLite file, real apprise, real receiver) ----


def settings_for(url: str, **alerts: object) -> config.Settings:
    """Alerts to `url`; no daemon-stopping message (no daemon runs in these tests)."""
    return config.Settings().replace("alerts", urls=(url,), **{"daemon": False, **alerts})


def test_a_scan_with_nothing_newly_verified_does_not_read_the_verified_calls(
    tmp_path: Path,
) -> None:
    """Every daemon heartbeat (5 s) wakes the alert scan; it read all verified calls since
    its mark each time: 65 ms CPU at 100k calls, for nothing. Now it reads them only when
    their count moved, and a call verified later still gets its alert."""
    settings = settings_for("json://127.0.0.1:9/")
    ids = add_calls(
        tmp_path, [call_row("AAA", "2024-01-03", 1, "up"), call_row("BBB", "2024-01-03", 1, "up")]
    )
    db = open_db(tmp_path)
    events.scan(db, settings.alerts)  # marks set
    read: list[str] = []
    db.conn.set_trace_callback(read.append)
    assert events.scan(db, settings.alerts) == 0
    assert not [q for q in read if "verified_at >=" in q], read
    with db.conn:  # AAA closes outside its 95% range
        predictions.mark_verified(
            db, [predictions.Verdict(110.0, 8.5, 1, "up", 1, 1, 0, 0, utcnow(), ids[0])]
        )
    read.clear()
    assert events.scan(db, settings.alerts) == 1
    assert [q for q in read if "verified_at >=" in q]
    read.clear()
    assert events.scan(db, settings.alerts) == 0 and not [q for q in read if "verified_at >=" in q]
    with db.conn:  # BBB inside: read, no alert
        predictions.mark_verified(
            db, [predictions.Verdict(100.5, 0.5, 1, "up", 1, 1, 1, 1, utcnow(), ids[1])]
        )
    read.clear()
    assert events.scan(db, settings.alerts) == 0 and [q for q in read if "verified_at >=" in q]
    db.close()


def test_events_are_sent_once_and_flat_calls_never(tmp_path: Path, receiver: Receiver) -> None:
    settings = settings_for(receiver.url)
    add_calls(tmp_path, [call_row("OLD", "2024-01-02", 1, "up")])
    db = open_db(tmp_path)
    assert events.scan(db, settings.alerts) == 0  # the first scan: history is not news
    calls_mark, range_mark = outbox.get_mark(db, "call"), outbox.get_mark(db, "range")
    assert calls_mark and range_mark
    ids = add_calls(
        tmp_path,
        [
            call_row("AAA", "2024-01-03", 1, "up"),
            call_row("BBB", "2024-01-03", 1, "flat"),  # did not pass its gate: no alert
            call_row("CCC", "2024-01-03", 3, "down"),
        ],
    )
    run = job_runs.start(db, "collect", scheduled_for="2024-01-03")
    job_runs.finish(db, run, "failed", "the source timed out")
    ok = job_runs.start(db, "cycle", scheduled_for="2024-01-03")
    job_runs.finish(db, ok, "ok", "3 calls")
    with db.conn:  # AAA's close fell outside its 95% range, CCC's inside
        predictions.mark_verified(
            db,
            [
                predictions.Verdict(110.0, 8.5, 1, "up", 1, 1, 0, 0, utcnow(), ids[1]),
                predictions.Verdict(99.0, 0.5, 1, "down", 0, 0, 1, 1, utcnow(), ids[3]),
            ],
        )
    assert events.scan(db, settings.alerts) == 4
    outbox.set_mark(db, "call", calls_mark)  # the same events produced again ...
    outbox.set_mark(db, "range", range_mark)
    outbox.set_mark(db, "range_count", "")  # (the verified calls are read again)
    assert events.scan(db, settings.alerts) == 0  # ... are the same outbox rows
    db.close()

    sender = AlertSender(tmp_path, settings, poll_s=0.1).start()
    try:
        wait_for(lambda: len(receiver.got) >= 4, 60, "four alerts delivered")
        done = sender.passes
        # more passes of the sender: a second delivery, were there one, is made in them
        wait_for(lambda: sender.passes >= done + 3, 60, "three more sender passes")
    finally:
        sender.close(None)
    assert sorted(receiver.titles()) == [
        "AAA UP over 1 session",
        "AAA closed outside its 95% range",
        "CCC DOWN over 3 sessions",
        "trading-assistant: job collect failed",
    ]
    assert not any("BBB" in m["title"] + m["message"] for m in receiver.got)
    assert "the source timed out" in receiver.got[-1]["message"] or any(
        "the source timed out" in m["message"] for m in receiver.got
    )
    rows = query(tmp_path, "SELECT status, tries FROM alerts")
    assert rows and all(r == ("sent", 1) for r in rows)


def test_switched_off_events_are_not_sent(tmp_path: Path, receiver: Receiver) -> None:
    settings = settings_for(receiver.url, calls=False)
    db = open_db(tmp_path)
    events.scan(db, settings.alerts)
    add_calls(tmp_path, [call_row("AAA", "2024-01-03", 1, "up")])
    assert events.scan(db, settings.alerts) == 0
    # switched on again later: the call made while off stays unsent (no backlog)
    assert events.scan(db, settings_for(receiver.url).alerts) == 0
    db.close()


def test_a_refusing_endpoint_is_retried_then_recorded_failed(tmp_path: Path) -> None:
    failing = Receiver("fail")
    settings = settings_for(failing.url, retries=1)
    db = open_db(tmp_path)
    events.scan(db, settings.alerts)
    add_calls(tmp_path, [call_row("AAA", "2024-01-03", 1, "up")])
    events.scan(db, settings.alerts)
    db.close()
    sender = AlertSender(tmp_path, settings, poll_s=0.1).start()
    try:
        wait_for(
            lambda: query(tmp_path, "SELECT 1 FROM alerts WHERE status = 'failed'"),
            60,
            "the alert given up",
        )
    finally:
        sender.close(None)
        failing.close()
    ((status, tries, error),) = query(tmp_path, "SELECT status, tries, last_error FROM alerts")
    assert (status, tries) == ("failed", 2) and "500" in error
    assert failing.requests == 2  # the first try and one retry after its pause
    r = cli(tmp_path, "alerts", "list")
    assert r.returncode == 0 and "failed" in r.stdout and "500" in r.stdout


# ---- the daemon (a real subprocess) ----


# The daemons below run a live catch-up of an empty watchlist: only calls (and the stop).
ONLY_CALLS = {k: False for k in ("ranges", "regimes", "jobs", "stale", "quarantine", "digest")}


def daemon_up(home: Path, proc: object) -> None:
    wait_for(
        lambda: query(home, "SELECT 1 FROM alert_marks WHERE name = 'call'"),
        120,
        "the sender's first scan",
        proc,  # type: ignore[arg-type]
    )


def test_daemon_delivers_a_call_and_its_stop_once(tmp_path: Path, receiver: Receiver) -> None:
    home = tmp_path / "home"
    write_config(home, [receiver.url], **ONLY_CALLS)
    proc = spawn(home, "daemon")
    daemon_up(home, proc)
    add_calls(
        home,
        [call_row("AAA", "2024-01-03", 1, "up"), call_row("BBB", "2024-01-03", 1, "flat")],
    )
    wait_for(lambda: "AAA UP over 1 session" in receiver.titles(), 60, "the call's alert", proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert sorted(receiver.titles()) == [
        "AAA UP over 1 session",
        "trading-assistant: daemon stopping",
    ]


@pytest.mark.slow  # over 10 s: a connect timeout / every calendar built / real sockets and daemons
def test_a_hanging_endpoint_never_delays_the_daemon(tmp_path: Path) -> None:
    hanging = Receiver("hang", hang_s=300)
    home = tmp_path / "home"
    try:
        write_config(home, [hanging.url], timeout_seconds=2, retries=1, **ONLY_CALLS)
        proc = spawn(home, "daemon")
        daemon_up(home, proc)
        add_calls(home, [call_row("AAA", "2024-01-03", 1, "up")])
        wait_for(lambda: hanging.requests >= 1, 60, "the first send", proc)
        # while the endpoint hangs, the loop goes on: heartbeats, and commands are served
        beat = query(home, "SELECT heartbeat_at FROM daemon")[0][0]
        wait_for(
            lambda: query(home, "SELECT heartbeat_at FROM daemon")[0][0] > beat,
            60,
            "a heartbeat during the hanging send",
            proc,
        )
        r = cli(home, "status")
        assert r.returncode == 0, r.stderr
        wait_for(
            lambda: query(home, "SELECT 1 FROM alerts WHERE status = 'unconfirmed'"),
            120,
            "the alert recorded unconfirmed",
            proc,
        )
        ((tries, error),) = query(home, "SELECT tries, last_error FROM alerts WHERE event = 'call'")
        print("recorded error:", error)
        # the endpoint read the request and never answered: it may have it, so it is
        # recorded sent-unconfirmed after one try, not sent again
        assert tries == 1 and hanging.requests == 1
        assert "sent, no answer within 2 s (it may have arrived)" in error
        log = (home / "logs" / "daemon.log").read_text() if (home / "logs").exists() else ""
        out = Path(f"{home}.out").read_text()
        assert "alert sent, unconfirmed (not sent again)" in out + log
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0  # the stop message's hanging send does not hold the exit
    finally:
        hanging.close()


def test_stale_data_alerts_once_per_stale_bar(tmp_path: Path, receiver: Receiver) -> None:
    csv = tmp_path / "xyz.csv"
    csv.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,10,11,9,10.5,1000\n2024-01-03,10.5,11,10,10.8,1200\n"
    )
    home = tmp_path / "home"
    r = cli(home, "import", str(csv), "--symbol", "XYZ")
    assert r.returncode == 0, r.stderr
    settings = settings_for(receiver.url)
    db = open_db(home)
    try:
        assert events.scan(db, settings.alerts) == 1  # stale is a state, not history
        assert events.scan(db, settings.alerts) == 0
        ((title, body),) = db.execute("SELECT title, body FROM alerts").fetchall()
    finally:
        db.close()
    assert title == "XYZ: data is stale" and "2024-01-03" in body


def test_a_regime_change_alerts_once(tmp_path: Path, receiver: Receiver) -> None:
    settings = settings_for(receiver.url)
    add_calls(tmp_path, [call_row("AAA", "2024-01-02", 1, "flat")])  # AAA on the watchlist
    db = open_db(tmp_path)
    try:

        def regime(date: str, label: str) -> None:
            with db.conn:
                regimes.upsert_many(db, [("AAA", date, label, 0.01, 0.2)])

        regime("2024-01-02", "bullish")
        events.scan(db, settings.alerts)  # the first regime seen is not a change
        regime("2024-01-03", "bullish")
        assert events.scan(db, settings.alerts) == 0  # the same regime a day later
        regime("2024-01-04", "volatile")
        assert events.scan(db, settings.alerts) == 1
        assert events.scan(db, settings.alerts) == 0
        ((title, body),) = db.execute("SELECT title, body FROM alerts").fetchall()
    finally:
        db.close()
    assert title == "AAA: regime now volatile"
    assert "was bullish on 2024-01-03" in body


def test_a_quarantined_model_alerts_once(tmp_path: Path, receiver: Receiver) -> None:
    settings = settings_for(receiver.url)
    db = open_db(tmp_path)
    try:
        for n in (1, 2):
            registry.register(
                db,
                model_id=f"markov-{n}",
                kind="markov",
                version=n,
                symbols=["AAA"],
                horizons=[1],
                ranges={"train": ("2020-01-02", "2023-12-29")},
                feature_hash="f",
                metrics={},
                artifact_path=str(tmp_path / f"m{n}"),
            )
        registry.quarantine(db, "markov-1", "quarantined before alerts were on")
        events.scan(db, settings.alerts)  # what was quarantined before is not news
        registry.quarantine(db, "markov-2", "artifact failed to load back: truncated")
        assert events.scan(db, settings.alerts) == 1
        assert events.scan(db, settings.alerts) == 0
        ((title, body),) = db.execute("SELECT title, body FROM alerts").fetchall()
    finally:
        db.close()
    assert title == "trading-assistant: model markov-2 quarantined"
    assert "artifact failed to load back: truncated" in body


def test_the_rate_limit_holds_the_rest_back(tmp_path: Path, receiver: Receiver) -> None:
    settings = settings_for(receiver.url, per_minute=2)
    db = open_db(tmp_path)
    events.scan(db, settings.alerts)
    add_calls(tmp_path, [call_row(s, "2024-01-03", 1, "up") for s in ("AAA", "BBB", "CCC", "DDD")])
    assert events.scan(db, settings.alerts) == 4
    db.close()
    sender = AlertSender(tmp_path, settings, poll_s=0.1).start()
    try:
        wait_for(lambda: len(receiver.got) >= 2, 60, "the first two alerts")
        done = sender.passes  # ten more passes of the sender: the limit is per minute
        wait_for(lambda: sender.passes >= done + 10, 60, "ten more sender passes")
    finally:
        sender.close(None)
    assert len(receiver.got) == 2
    statuses = sorted(r[0] for r in query(tmp_path, "SELECT status FROM alerts"))
    assert statuses == ["pending", "pending", "sent", "sent"]  # waiting their turn


def test_an_alert_not_sent_in_time_is_dropped(tmp_path: Path, receiver: Receiver) -> None:
    settings = settings_for(receiver.url, max_age_minutes=30)
    db = open_db(tmp_path)
    events.scan(db, settings.alerts)
    add_calls(tmp_path, [call_row(s, "2024-01-03", 1, "up") for s in ("OLD", "NEW")])
    assert events.scan(db, settings.alerts) == 2
    with db.conn:  # OLD's alert was queued long ago (a daemon that was down since)
        db.execute(
            "UPDATE alerts SET created_at = '2000-01-01T00:00:00+00:00' WHERE key = 'call:1'"
        )
    db.close()
    sender = AlertSender(tmp_path, settings, poll_s=0.1).start()
    try:
        wait_for(lambda: receiver.got, 60, "the fresh alert")
    finally:
        sender.close(None)
    assert receiver.titles() == ["NEW UP over 1 session"]
    assert query(tmp_path, "SELECT key, status FROM alerts ORDER BY id") == [
        ("call:1", "expired"),
        ("call:2", "sent"),
    ]


def test_a_digest_follows_the_verify_after_a_cycle(tmp_path: Path, receiver: Receiver) -> None:
    settings = settings_for(receiver.url)
    (old,) = add_calls(tmp_path, [call_row("OLD", "2024-01-02", 1, "up")])
    db = open_db(tmp_path)
    try:
        events.scan(db, settings.alerts)
        time.sleep(1.1)  # store times are to the second: OLD was made before this cycle
        cycle = job_runs.start(db, "cycle", scheduled_for="2024-01-03")
        add_calls(
            tmp_path,
            [call_row("AAA", "2024-01-03", 1, "up"), call_row("BBB", "2024-01-03", 1, "flat")],
        )
        job_runs.finish(db, cycle, "ok", "2 calls")
        verify = job_runs.start(db, "verify", scheduled_for="2024-01-03")
        with db.conn:
            predictions.mark_verified(
                db, [predictions.Verdict(101.0, 0.5, 1, "up", 1, 1, 1, 1, utcnow(), old)]
            )
        job_runs.finish(db, verify, "ok", "1 scored")
        assert events.scan(db, settings.alerts) == 2  # AAA's call, and the digest
        assert events.scan(db, settings.alerts) == 0
        ((title, body),) = db.execute(
            "SELECT title, body FROM alerts WHERE event = 'digest'"
        ).fetchall()
    finally:
        db.close()
    assert title == "trading-assistant: digest 2024-01-03"
    assert "Calls: 2 (1 UP, 0 DOWN, 1 FLAT = no edge)" in body
    assert "AAA UP: +1.50% to 101.50" in body and "BBB" not in body
    assert "Scored: 1 matured call(s); UP/DOWN hits 1/1; closes inside their 95% range 1/1" in body
