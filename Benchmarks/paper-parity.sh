#!/usr/bin/env bash
# The paper-size model (227/227, depth 10, full widths; 230 MB of random weights, generated here and
# never committed) and a 640x480 PNG from torch_reference.py, against `foveal predict --json --dump`.
# Reports each output's largest error against the float32 reference and against float64.
# Usage: Benchmarks/paper-parity.sh [SEED]   (needs make release and make venv)
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-0}
python=${PYTHON:-.venv-ref/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" ../shared/reference/torch_reference.py --out "$work/paper" --seed "$seed"
.build/release/foveal predict --weights "$work/paper.weights.safetensors" --json --dump "$work/dump" "$work/paper.png"
"$python" Benchmarks/compare_outputs.py "$work/paper" "$work/dump/paper.safetensors"
