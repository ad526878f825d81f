#!/usr/bin/env bash
# Foveal against ONNX Runtime and PyTorch: batch-1 latency of the paper-size model (the same
# random weights in all three) on a 640x480 frame, 2 threads each, timed alternately for ROUNDS
# rounds in one run, so that the shared machine's noise hits all three alike. Prints each round
# and the ratios of the median p50s. ONNX Runtime runs the reference exported with
# torch.onnx.export(dynamo=True); the script first checks that it agrees with PyTorch. Foveal
# with bfloat16 fully connected weights (--fc-precision bf16) is timed too, apart from the ratios.
#
# Needs: a release build and the venv (make venv: torch==2.13.0+cpu, onnxruntime, onnxscript).
# Usage: Benchmarks/inference-vs-peers.sh [ROUNDS]   (the weights, 230 MB, go to a temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
python=${PYTHON:-.venv-ref/bin/python}
foveal=.build/release/foveal
[ -x "$foveal" ] || swift build -c release >/dev/null
model=$(mktemp -d)
trap 'rm -rf "$model"' EXIT
"$python" Benchmarks/peer_inference.py --prepare "$model"
f=(); o=(); t=(); h=()
p50() { "$python" -c 'import json,sys; d=json.load(sys.stdin); print(d["latency_ms"]["p50"] if "latency_ms" in d else d["p50"])'; }
for i in $(seq "$rounds"); do
  fp=$("$foveal" bench --weights "$model/model.safetensors" --size 640x480 --threads 2 --iterations 30 --batch 1 --json | p50)
  op=$("$python" Benchmarks/peer_inference.py --engine onnxruntime --model "$model" --threads 2 --iterations 30 | p50)
  tp=$("$python" Benchmarks/peer_inference.py --engine torch --model "$model" --threads 2 --iterations 30 | p50)
  hp=$("$foveal" bench --weights "$model/model.safetensors" --size 640x480 --threads 2 --iterations 30 --batch 1 --fc-precision bf16 --json | p50)
  printf 'round %d: foveal p50 %.1f ms   onnxruntime p50 %.1f ms   pytorch p50 %.1f ms   foveal bf16 FC p50 %.1f ms\n' "$i" "$fp" "$op" "$tp" "$hp"
  f+=("$fp"); o+=("$op"); t+=("$tp"); h+=("$hp")
done
"$python" - "${f[*]}" "${o[*]}" "${t[*]}" "${h[*]}" <<'PY'
import statistics, sys
f, o, t, h = ([float(v) for v in arg.split()] for arg in sys.argv[1:5])
mf, mo, mt, mh = statistics.median(f), statistics.median(o), statistics.median(t), statistics.median(h)
print(f"median p50: foveal {mf:.1f} ms, onnxruntime {mo:.1f} ms, pytorch {mt:.1f} ms (foveal with bf16 FC weights {mh:.1f} ms)")
print(f"ratios: foveal/onnxruntime {mf / mo:.2f}, foveal/pytorch {mf / mt:.2f} (bf16 FC: {mh / mo:.2f} and {mh / mt:.2f})")
PY
