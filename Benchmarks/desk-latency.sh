#!/usr/bin/env bash
# What the desk model's larger saliency input costs: `foveal bench` batch-1 latency of the phone
# model's configuration (experiments/compact160.json: 64-px saliency input) and the desk model's
# (experiments/desk.json: 96 px), both with a 160-px task input, at 640x480, 1280x720 and
# 1920x1080, alternated for ROUNDS rounds in one run (machines change; compare within a run).
# Usage: Benchmarks/desk-latency.sh [ROUNDS]   (needs .build/release/foveal and python3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
foveal=${FOVEAL:-.build/release/foveal}
out=$(mktemp -d)
for r in $(seq "$rounds"); do
  for size in 640x480 1280x720 1920x1080; do
    for config in compact160 desk; do
      $foveal bench --config "experiments/$config.json" --size "$size" --iterations 40 --batch 1 --threads 2 --json > "$out/$config-$size-$r.json"
    done
  done
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
print("| frame | 64-px saliency (compact160) p50 | 96-px saliency (desk) p50 | desk / compact160 |")
print("|---|---|---|---|")
for size in ["640x480", "1280x720", "1920x1080"]:
    p = {c: statistics.median(json.load(open(f"{out}/{c}-{size}-{r}.json"))["latency_ms"]["p50"] for r in range(1, rounds + 1))
         for c in ["compact160", "desk"]}
    print(f"| {size} | {p['compact160']:.2f} ms | {p['desk']:.2f} ms | {p['desk'] / p['compact160']:.2f}x |")
PY
