"""Alerts: a consumer of the cycle's results, never inside it.

`events` reads what the cycle, verify and the jobs stored and puts each event worth a
message into the outbox (store.alerts), once per event; `send` delivers one message
through apprise, each URL's exchange within a wall-clock deadline, in one helper process
(`courier`); `worker` is the daemon's sender thread that drains the outbox with retries
(of failed sends only: one that went out unanswered is recorded unconfirmed), a rate
limit and an age limit. docs/alerts.md says what a user receives, crashes included.
"""
