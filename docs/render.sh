#!/usr/bin/env bash
# Re-render the README's pictures from the real app, the way the demo looks:
#   bash docs/render.sh            -> docs/dashboard.svg, docs/symbol.svg (120x40)
# A throwaway home with the bundled sample; the daemon replays its last 120 sessions as fast
# as it can with the fast model set (xgboost, markov, rules, ranking, retrained every 20 sessions,
# each retrain on bars up to its session only), then the dashboard and AAPL's screen are
# saved while the daemon is still running. Run it whenever the screens change: a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
A=.venv/bin/assistant
home=$(mktemp -d)
export ASSISTANT_HOME="$home"
trap '$A stop >/dev/null 2>&1 || true; rm -rf "$home"' EXIT
printf '[models]\nkinds = ["xgboost", "markov", "rules", "ranking"]\n' >"$home/config.toml"
$A watch add ^GSPC ^IXIC AAPL GOOG IBM MSFT >/dev/null
$A collect >/dev/null
start=$(.venv/bin/python - "$home" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"{sys.argv[1]}/assistant.db")
dates = [d for (d,) in db.execute("SELECT DISTINCT date FROM bars ORDER BY date")]
print(dates[-120])
PY
)
$A start --replay --from "$start" --speed 0 --retrain-every 20 >/dev/null
echo "replaying from $start (log: $home/logs/daemon.log) ..."
# the replay is done when its simulated date reaches the last stored session
until $A status --json | .venv/bin/python -c '
import json, sqlite3, sys
s = json.load(sys.stdin)
last = sqlite3.connect(sys.argv[1] + "/assistant.db").execute("SELECT MAX(date) FROM bars").fetchone()[0]
sys.exit(0 if s.get("sim_date") == last else 1)
' "$home"; do sleep 5; done
sleep 10  # the last session's verify and cycle
# 120x40: the size the dashboard is made to be usable at (tests/test_tui_layout.py)
.venv/bin/python -m tui --home "$home" --screenshot docs/dashboard.svg --size 120x40
.venv/bin/python -m tui --home "$home" --screenshot docs/symbol.svg --size 120x40 --symbol AAPL
