#!/usr/bin/env bash
# Foveal vs the PyTorch CPU reference: batch-1 latency of the paper-size model on a 640x480
# frame, both on 2 threads, measured alternately in one run (A B A B ...) so that the shared
# machine's noise hits both alike. Prints each round and the ratio of the median p50s.
#
# Needs: a release build (make release) and PyTorch (make venv: torch==2.13.0+cpu).
# Usage: Benchmarks/inference-vs-pytorch.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
python=${PYTHON:-.venv-ref/bin/python}
foveal=.build/release/foveal
[ -x "$foveal" ] || swift build -c release >/dev/null
f=(); t=()
for i in $(seq "$rounds"); do
  fj=$("$foveal" bench --config paper --size 640x480 --threads 2 --iterations 30 --batch 4 --json)
  tj=$("$python" Benchmarks/pytorch_inference.py --threads 2 --iterations 30 --size 640x480)
  fp=$(echo "$fj" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["latency_ms"]["p50"])')
  tp=$(echo "$tj" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["p50"])')
  echo "round $i: foveal p50 $(printf %.1f "$fp") ms   pytorch p50 $(printf %.1f "$tp") ms"
  f+=("$fp"); t+=("$tp")
done
"$python" - "${f[*]}" "${t[*]}" <<'PY'
import statistics, sys
f = [float(v) for v in sys.argv[1].split()]; t = [float(v) for v in sys.argv[2].split()]
mf, mt = statistics.median(f), statistics.median(t)
print(f"median p50: foveal {mf:.1f} ms, pytorch {mt:.1f} ms, ratio foveal/pytorch {mf / mt:.2f}")
PY
