"""The plan-then-act cycle: analyze, plan, predict, act, learn, drift and the report (README: "The cycle: plan, then act")."""
