#!/usr/bin/env bash
# Smoke test of the dashboard in a real terminal: start `xjp serve` in a
# tmux session, open the dashboard, send a streamed request, and check the
# request shows on screen; then quit with q and check the process ends.
#
#   scripts/tmux-smoke.sh            # builds ./cmd/xjp into a temp dir
#   XJP=/path/to/xjp scripts/tmux-smoke.sh
set -euo pipefail
command -v tmux >/dev/null || { echo "tmux not installed: skipping the dashboard smoke test"; exit 0; }
cd "$(dirname "$0")/.."

work=$(mktemp -d)
session="xjp-smoke-$$"
cleanup() { tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

xjp=${XJP:-$work/xjp}
[ -n "${XJP:-}" ] || go build -o "$xjp" ./cmd/xjp
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
addr="127.0.0.1:$port"

screen() { tmux capture-pane -t "$session" -p; }
wait_for() { # wait_for PATTERN WHAT
  for _ in $(seq 100); do screen | grep -q -- "$1" && return 0; sleep 0.1; done
  echo "FAIL: $2 not on screen:"; screen; exit 1
}

tmux new-session -d -s "$session" -x 120 -y 36 \
  "env XDG_CONFIG_HOME=$work/config $xjp serve --data-dir $work/data --listen $addr; echo EXITED=\$?; sleep 30"
wait_for "Press Enter to open the dashboard" "the first-key prompt"
key=$(screen | grep -o 'xjp_[A-Za-z0-9]\{43\}' | head -1)
[ -n "$key" ] || { echo "FAIL: no key printed"; screen; exit 1; }
tmux send-keys -t "$session" Enter
wait_for "Streams" "the dashboard"

curl -sfN "http://$addr/v1/chat/completions" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"model":"demo","stream":true,"messages":[{"role":"user","content":"Hello from the smoke test"}]}' >/dev/null
wait_for "demo → demo/demo" "the finished request"
wait_for "default  *1 " "the spend of key default"

tmux send-keys -t "$session" q
wait_for "EXITED=0" "a clean exit after q"

# Closing the terminal (SIGHUP) stops a server with a dashboard: it must not
# live on without a screen, holding its port.
tmux kill-session -t "$session"
tmux new-session -d -s "$session" -x 120 -y 36 "env XDG_CONFIG_HOME=$work/config $xjp serve --data-dir $work/data --listen $addr"
wait_for "Streams" "the dashboard (second start)"
tmux kill-session -t "$session"
for _ in $(seq 100); do
  curl -sf "http://$addr/healthz" >/dev/null || break
  sleep 0.1
done
if curl -sf "http://$addr/healthz" >/dev/null; then echo "FAIL: xjp still serving after its terminal closed"; exit 1; fi
echo "ok: dashboard showed the request, q exits cleanly, a closed terminal stops the server"
