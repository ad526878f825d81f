#!/usr/bin/env bash
# Reproduces the README's Table 1 experiment on the synthetic dataset: renders it, trains plain
# AlexNet and AlexNet + saliency sampler (frozen and end-to-end saliency) with the same compact
# task input, budget and seed, and evaluates each on the test split, with the constant baselines.
# Usage: experiments/table1.sh [WORK_DIR]   (about an hour on 2 cores with 200 recordings)
# Environment: RECORDINGS (default 200), VARIANTS (default "an ss-frozen ss-e2e"), FOVEAL (binary),
# MIRROR=1 (every model trains with left-right mirroring), CONFIG (default compact; e.g.
# experiments/compact160.json), EPOCHS (default 8).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-experiments/work}
recordings=${RECORDINGS:-200}
variants=${VARIANTS:-an ss-frozen ss-e2e}
foveal=${FOVEAL:-.build/release/foveal}
[ -x "$foveal" ] || swift build -c release
mkdir -p "$work"
[ -d "$work/gc" ] || $foveal synth --out "$work/gc" --recordings "$recordings" --seed 7
common=(--dataset "$work/gc" --config "${CONFIG:-compact}" --epochs "${EPOCHS:-8}" --batch 64 --lr 1e-3 --seed 1 --validation-limit 1000 ${MIRROR:+--mirror})
run() { local name=$1; shift; [ -f "$work/$name/best.safetensors" ] || $foveal train "${common[@]}" --out "$work/$name" "$@"; }
for name in $variants; do
  case $name in
    an) run an --no-sampler ;;
    ss-frozen) run ss-frozen --pretrain-saliency eyes --saliency-lr 0 ;;
    ss-e2e) run ss-e2e --pretrain-saliency eyes --saliency-lr 1e-4 --blur-epochs 2 ;;
    ss-e2e-slow) run ss-e2e-slow --pretrain-saliency eyes --saliency-lr 1e-5 --blur-epochs 2 ;;
    *) echo "unknown variant $name" >&2; exit 2 ;;
  esac
done
for baseline in mean family-mean; do
  $foveal eval --dataset "$work/gc" --baseline $baseline --json > "$work/baseline-$baseline.json"
done
for name in $variants; do
  $foveal eval --dataset "$work/gc" --weights "$work/$name/best.safetensors" --json > "$work/$name/test.json"
done
python3 experiments/table1.py "$work"
