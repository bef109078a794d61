"""The plan-then-act cycle: analyze, plan, predict, act, learn, drift and the report (DESIGN §8)."""
