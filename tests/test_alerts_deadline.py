"""Alert sends under a wall-clock deadline, against slow receivers on 127.0.0.1.

A trickling receiver (one header line every 0.1 s, never done) trips no per-read timeout:
each send must still end by its deadline, leave no thread or socket behind, and be
recorded honestly: the request went out, so it is "unconfirmed" (and not sent again),
never "not delivered".
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import cli
from assistant.alerts import events
from assistant.alerts import send as sending
from assistant.alerts.send import FAILED, SENT, UNCONFIRMED, Courier, clamp_timeout, send
from assistant.alerts.worker import AlertSender, idempotency_key
from store import alerts as outbox
from store.db import open_db
from tests.daemon_fixture import query, spawn, wait_for
from tests.receivers import SlowReceiver
from tests.test_alerts import (
    ONLY_CALLS,
    Receiver,
    add_calls,
    call_row,
    daemon_up,
    settings_for,
    write_config,
)


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def trickle() -> Iterator[SlowReceiver]:
    r = SlowReceiver("trickle", gap=0.1)
    yield r
    r.close()


@pytest.mark.slow  # over 10 s: a connect timeout / every calendar built / real sockets and daemons
def test_sends_to_a_trickling_receiver_leave_threads_and_fds_flat(trickle: SlowReceiver) -> None:
    courier = Courier()
    try:
        send([trickle.url], "t", "b", 1.0, courier=courier)  # starts the courier
        threads0, fds0, pid = threading.active_count(), fds(), courier.pid()
        child0 = len(os.listdir(f"/proc/{pid}/fd"))
        outcomes = [send([trickle.url], "t", "b", 1.0, courier=courier) for _ in range(12)]
        wait_for(lambda: trickle.open == 0, 30, "the receiver to see every connection closed")
        threads1, fds1 = threading.active_count(), fds()
        child1 = len(os.listdir(f"/proc/{pid}/fd"))
        same_courier = courier.pid() == pid
    finally:
        courier.close()
    print(
        f"threads {threads0} -> {threads1}, fds {fds0} -> {fds1}, courier fds {child0} -> {child1}"
    )
    assert (threads1, fds1) == (threads0, fds0)
    assert same_courier and courier.restarts == 0 and courier.pid() is None
    assert child1 <= child0 + 2  # the one courier served every send, holding nothing over
    # none was answered; each that reached the receiver is recorded as sent, unconfirmed
    unconfirmed = [o for o in outcomes if o.status == UNCONFIRMED]
    assert unconfirmed and "sent, no answer within 1 s" in (unconfirmed[0].error or "")
    assert all("nothing was sent" in (o.error or "") for o in outcomes if o.status == FAILED)
    assert len(trickle.requests) - 1 <= len(unconfirmed)


def test_a_late_answer_is_unconfirmed_sent_once_with_its_key(tmp_path: Path) -> None:
    """Answers after the deadline with short gaps: recorded unconfirmed, one copy, no retry."""
    late = SlowReceiver("late", gap=0.1, answer_after=3.0)
    settings = settings_for(late.url, timeout_seconds=1, retries=3)
    db = open_db(tmp_path)
    events.scan(db, settings.alerts)
    add_calls(tmp_path, [call_row("AAA", "2024-01-03", 1, "up")])
    add_calls(tmp_path, [call_row("BBB", "2024-01-03", 1, "up")])
    assert events.scan(db, settings.alerts) == 2
    keys = [idempotency_key(a) for a in outbox.due(db, "9999", 10)]
    db.close()
    sender = AlertSender(tmp_path, settings, poll_s=0.1).start()
    try:
        wait_for(
            lambda: (
                query(tmp_path, "SELECT COUNT(*) FROM alerts WHERE status = 'unconfirmed'")
                == [(2,)]
            ),
            60,
            "both alerts recorded unconfirmed",
        )
        done = sender.passes
        # several more passes: a retry (due 2 s later) would have gone out in one of them
        wait_for(lambda: sender.passes >= done + 3, 60, "three more sender passes")
    finally:
        sender.close(None)
        late.close()
    rows = query(tmp_path, "SELECT status, tries, sent_at IS NOT NULL, last_error FROM alerts")
    assert [r[:3] for r in rows] == [("unconfirmed", 1, 1)] * 2
    assert all("sent, no answer within 1 s (it may have arrived)" in r[3] for r in rows)
    assert len(late.requests) == 2  # one copy each
    assert [r["headers"].get("idempotency-key") for r in late.requests] == keys
    assert keys[0].startswith("trading-assistant:call:") and keys[0] != keys[1]


def test_a_retried_alert_carries_the_same_key(tmp_path: Path) -> None:
    """A refused try is retried (safe: it was refused) with the key of the first try."""
    failing = Receiver("fail")
    settings = settings_for(failing.url, retries=1)
    db = open_db(tmp_path)
    events.scan(db, settings.alerts)
    add_calls(tmp_path, [call_row("AAA", "2024-01-03", 1, "up")])
    events.scan(db, settings.alerts)
    (alert,) = outbox.due(db, "9999", 10)
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
    assert failing.keys == [idempotency_key(alert)] * 2


@pytest.mark.parametrize("value", [1e10, float("inf"), 1e6])
def test_any_timeout_setting_ends_in_time(
    tmp_path: Path,
    trickle: SlowReceiver,
    value: float,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`alerts test` with a huge timeout: no OverflowError, and a trickling endpoint ends at
    the sender's upper bound (lowered here to keep the test short)."""
    monkeypatch.setattr(sending, "MAX_TIMEOUT_S", 1.0)
    home = tmp_path / "home"
    write_config(home, [trickle.url])
    text = (home / "config.toml").read_text()
    (home / "config.toml").write_text(text + f"timeout_seconds = {value!r}\n")
    rc = cli.main(["--home", str(home), "alerts", "test"])
    err = capsys.readouterr().err
    if "timeout_seconds" in err:  # the config refused the value: one clear line, fine too
        assert rc == 1 and len(err.strip().splitlines()) == 1
        return
    assert rc == 1, err
    assert err.strip() == (
        "error: test alert unconfirmed: json://...: sent, no answer within 1 s (it may have "
        "arrived)"
    )


def test_clamp_timeout_any_value() -> None:
    assert clamp_timeout(1e10) == sending.MAX_TIMEOUT_S
    assert clamp_timeout(float("nan")) == sending.MAX_TIMEOUT_S
    assert clamp_timeout(float("inf")) == sending.MAX_TIMEOUT_S
    assert clamp_timeout(-5) == sending.MIN_TIMEOUT_S
    assert clamp_timeout(2.5) == 2.5


def test_alerts_test_sends_to_a_healthy_receiver_after_a_trickling_one(
    trickle: SlowReceiver,
) -> None:
    """The courier survives a deadline and the next send goes through."""
    ok = Receiver()
    courier = Courier()
    try:
        assert send([trickle.url], "t", "b", 0.3, courier=courier).status == UNCONFIRMED
        out = send([ok.url], "hello", "b", 5, courier=courier)
    finally:
        courier.close()
        ok.close()
    assert out.status == SENT and ok.titles() == ["hello"]


@pytest.mark.slow
def test_a_kill_9_mid_send_gives_no_second_copy(tmp_path: Path) -> None:
    """The daemon dies while a send hangs: at restart the alert is unconfirmed, not resent."""
    hanging = SlowReceiver("hang")
    home = tmp_path / "home"
    try:
        write_config(home, [hanging.url], timeout_seconds=30, **ONLY_CALLS)
        proc = spawn(home, "daemon")
        daemon_up(home, proc)
        add_calls(home, [call_row("AAA", "2024-01-03", 1, "up")])
        wait_for(lambda: hanging.requests, 60, "the send under way", proc)
        assert query(home, "SELECT status FROM alerts") == [("sending",)]
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        proc = spawn(home, "daemon")
        wait_for(
            lambda: query(home, "SELECT status FROM alerts") == [("unconfirmed",)],
            120,
            "the interrupted send recorded at restart",
            proc,
        )
        add_calls(home, [call_row("BBB", "2024-01-03", 1, "up")])
        wait_for(lambda: len(hanging.requests) >= 2, 60, "the next alert sent", proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        hanging.close()
    titles = [r["json"].get("title") for r in hanging.requests]
    assert titles[:2] == ["AAA UP over 1 session", "BBB UP over 1 session"]
    assert titles.count("AAA UP over 1 session") == 1
    (error,) = query(home, "SELECT last_error FROM alerts WHERE key = 'call:1'")[0]
    assert error == outbox.INTERRUPTED
