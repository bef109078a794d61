"""Alerts: a consumer of the cycle's results, never inside it.

`events` reads what the cycle, verify and the jobs stored and puts each event worth a
message into the outbox (store.alerts), once per event; `send` delivers one message
through apprise with a time limit; `worker` is the daemon's sender thread that drains
the outbox with retries, a rate limit and an age limit.
"""
