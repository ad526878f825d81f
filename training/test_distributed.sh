#!/usr/bin/env bash
# make test-distributed: the PyTorch trainer under torchrun on this machine's CPUs (gloo), against
# itself and against Foveal. Not in CI (a few minutes, and it needs PyTorch).
#  1. Two processes and one process, same global batch, 20 steps (saliency pretraining, blur
#     warm-up, mirroring, jitter, the saliency path trained end to end through shared BatchNorm
#     statistics, dropout off), in float64: the weights must agree to 1e-6. (In float32 they
#     differ by up to a few 1e-3: the saliency gradients come through the resampling's gradient
#     with respect to the grid, which amplifies rounding, and Adam's first steps move every
#     weight by about the learning rate whatever its gradient's size, so an element whose
#     gradient is rounding noise moves either way.)
#  2. Two processes, 300 steps: validation must fall, and the saved model must load in
#     `foveal eval`, which must report the validation error the trainer reported.
# Usage: training/test_distributed.sh FOVEAL_BINARY PYTHON
set -euo pipefail
foveal=${1:-.build/release/foveal}
python=${2:-.venv-ref/bin/python}
torchrun=$(dirname "$python")/torchrun
work=$(mktemp -d /tmp/foveal-distributed.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1

"$foveal" synth --out "$work/data" --recordings 30 --seed 7 --dots 12 --frames-per-dot 3 --setup phone | tail -1
common=(training/train.py --data "$work/data" --model compact --batch 16 --lr 1e-3 --saliency-lr 1e-4 --dropout 0
        --mirror --threads 1 --workers 1 --log-every 100)
parity=(--max-steps 20 --pretrain-steps 5 --blur-epochs 1 --epochs 1 --float64)

echo "== 1. one process and two, global batch 16, 20 steps"
start=$(date +%s)
"$torchrun" --standalone --nproc_per_node 1 "${common[@]}" "${parity[@]}" --out "$work/one" > "$work/one.log"
"$torchrun" --standalone --nproc_per_node 2 "${common[@]}" "${parity[@]}" --out "$work/two" > "$work/two.log"
echo "   ($(( $(date +%s) - start )) s)"
"$python" - "$work/one/last.safetensors" "$work/two/last.safetensors" <<'EOF'
import sys
from safetensors.torch import load_file
one, two = load_file(sys.argv[1]), load_file(sys.argv[2])
assert one.keys() == two.keys(), "the two runs saved different tensors"
worst, name = 0.0, ""
# saliency_head.bias shifts every logit of the softmax alike: its exact gradient is 0, and Adam
# turns the rounding noise in its place into steps of about the learning rate, either way.
for k in (k for k in one if k != "saliency_head.bias"):
    scale = max(float(one[k].abs().max()), 1e-6)
    gap = float((one[k] - two[k]).abs().max()) / scale
    if gap > worst:
        worst, name = gap, k
print(f"   {len(one)} tensors; largest difference {worst:.2e} of its tensor's largest value {name}"
      "(the files hold float32: float64 rounding differences vanish in them)")
sys.exit(0 if worst < 1e-6 else f"the 1- and 2-process runs differ by {worst:.2e} ({name})")
EOF

"$python" - "$work/one/log.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(f"   validation {rows[0]['validation_mean_cm']} cm before, {rows[-1]['validation_mean_cm']} cm after the 20 steps")
sys.exit(0 if rows[0]["validation_mean_cm"] != rows[-1]["validation_mean_cm"] else "the 20 steps did not change the model")
EOF

echo "== 2. two processes, 300 steps"
start=$(date +%s)
"$torchrun" --standalone --nproc_per_node 2 "${common[@]}" --max-steps 300 --epochs 100 --pretrain-steps 25 --out "$work/long" | tee "$work/long.log" | grep -E "before|epoch [0-9]+:"
echo "   ($(( $(date +%s) - start )) s)"
"$python" - "$work/long/log.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
first, best = float(rows[0]["validation_mean_cm"]), min(float(r["validation_mean_cm"]) for r in rows[1:])
print(f"   validation {first:.3f} cm before training, best {best:.3f} cm")
sys.exit(0 if best < 0.8 * first else "validation did not fall by a fifth")
EOF
"$foveal" eval --dataset "$work/data" --split val --weights "$work/long/best.safetensors" --json > "$work/eval.json"
"$python" - "$work/eval.json" "$work/long/best.safetensors" <<'EOF'
import json, sys
from safetensors import safe_open
report = json.load(open(sys.argv[1]))
mean = report["overall"]["mean_cm"] if "overall" in report else report["mean_cm"]
trainer = float(safe_open(sys.argv[2], "pt").metadata()["validation_cm"])
print(f"   foveal eval on val: {mean:.4f} cm; the trainer's validation: {trainer:.4f} cm")
sys.exit(0 if abs(mean - trainer) < 0.01 else "Foveal and the trainer disagree on the validation error")
EOF
echo "distributed training: all checks passed"
