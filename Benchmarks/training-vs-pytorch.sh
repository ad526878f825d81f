#!/usr/bin/env bash
# Training throughput of the compact model, Foveal vs the PyTorch CPU reference, both on 2
# threads, batch 64, 640x480 frames, measured alternately in one run: forward, MSE, backward and
# an Adam step on one in-memory batch (data loading excluded on both sides), for the three
# variants of the Table 1 experiment.
# Needs: make release, make venv.   Usage: Benchmarks/training-vs-pytorch.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-5}
python=${PYTHON:-.venv-ref/bin/python}
foveal=.build/release/foveal
[ -x "$foveal" ] || swift build -c release >/dev/null
echo "variant             foveal img/s  pytorch img/s  ratio"
for variant in "end-to-end:" "frozen saliency:--frozen-saliency" "plain AlexNet:--no-sampler"; do
  name=${variant%%:*}; flag=${variant#*:}
  f=$("$foveal" bench --config compact --train --threads 2 --batch 64 --iterations "$iterations" $flag --json |
      "$python" -c 'import json,sys; print(json.load(sys.stdin)["images_per_second"])')
  t=$("$python" Benchmarks/pytorch_training.py --threads 2 --batch 64 --iterations "$iterations" $flag |
      "$python" -c 'import json,sys; print(json.load(sys.stdin)["images_per_second"])')
  "$python" -c "print(f'{\"$name\":18s} {float($f):13.1f} {float($t):14.1f} {float($f)/float($t):6.2f}')"
done
