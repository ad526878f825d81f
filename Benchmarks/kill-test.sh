#!/usr/bin/env bash
# SIGKILL at random moments (not CI): KILLS kills of `foveal calibrate` replaying a recording into
# one store, then KILLS kills of `foveal train` on a tiny dataset whose epochs (and so checkpoint
# writes) come every fraction of a second, each run resuming from what the last one left.
# After every kill: the store's PRAGMA integrity_check is ok and every earlier session is whole
# (3 fits each, none lost); the checkpoint on disk loads and the next run resumes from it.
# Usage: Benchmarks/kill-test.sh [KILLS] [BINARY]
set -uo pipefail
cd "$(dirname "$0")/.."
kills=${1:-100}
foveal=${2:-.build/release/foveal}
[ -x "$foveal" ] || { echo "build first: swift build -c release" >&2; exit 2; }
work=$(mktemp -d)
db=$work/foveal.sqlite
recording=data/samples/gazecapture/00000
"$foveal" user add ana --db "$db" >/dev/null
"$foveal" screen add phone --preset "iPhone 5s" --orientation 3 --db "$db" >/dev/null
"$foveal" calibrate --user ana --screen phone --source "$recording" --db "$db" >/dev/null 2>&1

store_state() {  # prints "integrity sessions fits" for the store
  python3 - "$db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
ok = c.execute("PRAGMA integrity_check").fetchone()[0]
sessions = c.execute("SELECT COUNT(*) FROM calibrationSession").fetchone()[0]
fits = c.execute("SELECT COUNT(*) FROM calibration").fetchone()[0]
empty = c.execute("SELECT COUNT(*) FROM calibrationSession s WHERE NOT EXISTS (SELECT 1 FROM calibrationSample WHERE sessionId = s.id)").fetchone()[0]
print(ok, sessions, fits, empty)
EOF
}

failures=0
read -r ok sessions fits empty < <(store_state)
completed=0 killed=0 runs=0
# Until KILLS runs have died mid-session (a run that finished before its kill is not counted).
while [ $killed -lt "$kills" ] && [ $runs -lt $((kills * 5)) ]; do
  runs=$((runs + 1))
  before=$sessions
  "$foveal" calibrate --user ana --screen phone --source "$recording" --db "$db" >/dev/null 2>&1 &
  pid=$!
  sleep "$(python3 -c "import random; print(random.uniform(0.005, 0.3))")"
  kill -KILL $pid 2>/dev/null
  wait $pid 2>/dev/null
  read -r ok sessions fits empty < <(store_state)
  if [ "$sessions" -gt "$before" ]; then completed=$((completed + 1)); else killed=$((killed + 1)); fi
  if [ "$ok" != ok ] || [ $((fits % 3)) -ne 0 ] || [ "$fits" -ne $((sessions * 3)) ] || [ "$empty" -ne 0 ] || [ "$sessions" -lt "$before" ]; then
    echo "calibrate run $runs: integrity $ok, $sessions sessions, $fits fits, $empty without samples (before: $before sessions)"
    failures=$((failures + 1))
  fi
done
echo "calibrate: $runs runs, $killed killed mid-session, $completed finished before their kill; integrity $ok; $sessions sessions with $fits fits, none lost or partial; failures $failures"

data=$work/gc
"$foveal" synth --out "$data" --recordings 8 --dots 2 --frames-per-dot 2 --seed 3 >/dev/null
run=$work/run
image=$(ls "$data"/*/frames/*.jpg | head -1)
train_failures=0 resumed=0 tkilled=0
for i in $(seq "$kills"); do
  resume=()
  [ -f "$run/last.safetensors" ] && resume=(--resume)
  "$foveal" train --dataset "$data" --out "$run" --epochs 100000 --batch 4 --limit 8 --validation-limit 4 "${resume[@]}" >"$work/train.out" 2>"$work/train.err" &
  pid=$!
  sleep "$(python3 -c "import random; print(random.uniform(0.3, 2.5))")"
  if kill -KILL $pid 2>/dev/null; then tkilled=$((tkilled + 1)); fi
  wait $pid 2>/dev/null
  if grep -q "^foveal:" "$work/train.err"; then
    echo "train run $i failed: $(cat "$work/train.err")"; train_failures=$((train_failures + 1))
  fi
  [ ${#resume[@]} -gt 0 ] && grep -q "resuming at epoch" "$work/train.err" && resumed=$((resumed + 1))
  for f in last best; do
    if [ -f "$run/$f.safetensors" ] && ! "$foveal" predict --weights "$run/$f.safetensors" "$image" >/dev/null 2>"$work/predict.err"; then
      echo "after kill $i: $f.safetensors does not load: $(cat "$work/predict.err")"; train_failures=$((train_failures + 1))
    fi
  done
  if ls "$run"/*.tmp* >/dev/null 2>&1; then : ; fi
done
epoch=$(python3 -c "import json,struct,sys; f=open(sys.argv[1],'rb'); n=struct.unpack('<Q',f.read(8))[0]; print(json.loads(f.read(n))['__metadata__'].get('epoch'))" "$run/last.safetensors")
echo "train: $kills runs, $tkilled killed, $resumed resumed from disk; last checkpoint at epoch $epoch loads; failures $train_failures"
rm -rf "$work"
[ $failures -eq 0 ] && [ $train_failures -eq 0 ]
