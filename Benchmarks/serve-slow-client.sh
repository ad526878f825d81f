#!/usr/bin/env bash
# `foveal serve` with three reading WebSocket clients, then the same with a fourth that never
# reads, side by side in one run: the messages each reader receives per second, and whether the
# stalled client was dropped. Replays the sample recording unpaced (--fps 0), so the pipeline runs
# as fast as the model. Needs python3 with `websockets` (pip install websockets); not part of CI.
# Usage: Benchmarks/serve-slow-client.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
[ -x .build/release/foveal ] || swift build -c release
db=$(mktemp -d)/foveal.sqlite
out=$(mktemp)
.build/release/foveal serve --source data/samples/gazecapture/00000 --loop --fps 0 --port 0 --db "$db" > "$out" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.1; done
url=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['url'])" "$out")
python3 Benchmarks/serve_clients.py "$url" "$seconds"
python3 Benchmarks/serve_clients.py "$url" "$seconds" --stalled
