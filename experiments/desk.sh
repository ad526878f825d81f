#!/usr/bin/env bash
# The desk model: renders a training set of all four setups, fine-tunes the phone model on it
# (eye-box saliency pretraining, then the task network behind the frozen sampler), fits the
# presence head on its frozen features, then trains the head with the network in four short
# runs, fits the face-in-view head on the result's frozen features, trains again on three more
# seeds of 2,400 subjects each, then with the sampler unfrozen, then on a fifth seed, writes it to
# average each frame with its mirror image at inference, and evaluates
# the result on a seed it never saw: per family, uncalibrated and with 13-dot calibration, against
# the best constant (each family's own mean test label).
# Usage: experiments/desk.sh [WORK_DIR]   (about 6 hours on 2 cores)
# Environment: FOVEAL (binary), TRAIN_SEED (101), TEST_SEED (9002), EPOCHS (12),
# TABLE1=1 also trains plain AlexNet at the same task input (the paper's Table 1 at a desk), evaluated
# with the mirror average too.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-experiments/desk-work}
foveal=${FOVEAL:-.build/release/foveal}
train_seed=${TRAIN_SEED:-101}
test_seed=${TEST_SEED:-9002}
[ -x "$foveal" ] || swift build -c release
mkdir -p "$work"
timed() { local t0=$SECONDS; "$@"; echo "[$(( SECONDS - t0 )) s] $*" >> "$work/times.txt"; }

# 600 subjects (2:1:2:2 phone, tablet, laptop, desktop), 16 dots of 3 frames each.
[ -d "$work/train" ] || timed $foveal synth --setup phone=2,tablet=1,laptop=2,desktop=2 --recordings 600 \
  --dots 16 --frames-per-dot 3 --seed "$train_seed" --out "$work/train"
# The held-out seed: 120 subjects of each setup, all in the test split (a mixed rendering puts
# only 15% there), 24 dots of 2 frames each (13 to calibrate, 11 to score).
[ -d "$work/test" ] || timed $foveal synth --setup phone,tablet,laptop,desktop --recordings 480 \
  --dots 24 --frames-per-dot 2 --seed "$test_seed" --split test --out "$work/test"

common=(--dataset "$work/train" --config experiments/desk.json --init-from data/foveal-compact.safetensors
        --pretrain-saliency eyes --pretrain-steps 300 --epochs "${EPOCHS:-12}" --batch 64 --lr 5e-4 --mirror
        --validation-limit 2000 --seed 3)
[ -f "$work/gaze/best.safetensors" ] || timed $foveal train "${common[@]}" --saliency-lr 0 --out "$work/gaze"
[ -f "$work/fitted/best.safetensors" ] || timed $foveal train --dataset "$work/train" --presence-from "$work/gaze/best.safetensors" --out "$work/fitted"
# The presence head with the network: 4 epochs at weight 1, then 3 and 4 at weight 10, then 2 at
# dropout 0.25, each from the last run's best (the validation split's gaze error).
# The presence recipe behind the frozen sampler, shared by these runs and the ones on more subjects below.
presence=(--config experiments/desk.json --presence --batch 64 --saliency-lr 0 --mirror --validation-limit 2000)
joint=(--dataset "$work/train" "${presence[@]}")
[ -f "$work/joint1/best.safetensors" ] || timed $foveal train "${joint[@]}" --init-from "$work/fitted/best.safetensors" \
  --epochs 4 --lr 2e-4 --seed 3 --out "$work/joint1"
[ -f "$work/joint2/best.safetensors" ] || timed $foveal train "${joint[@]}" --init-from "$work/joint1/best.safetensors" \
  --presence-weight 10 --epochs 3 --lr 2e-4 --seed 4 --out "$work/joint2"
[ -f "$work/joint3/best.safetensors" ] || timed $foveal train "${joint[@]}" --init-from "$work/joint2/best.safetensors" \
  --presence-weight 10 --epochs 4 --lr 1.5e-4 --seed 5 --out "$work/joint3"
[ -f "$work/joint4/best.safetensors" ] || timed $foveal train "${joint[@]}" --init-from "$work/joint3/best.safetensors" \
  --presence-weight 10 --dropout 0.25 --epochs 2 --lr 1e-4 --seed 6 --out "$work/joint4"
# More subjects: the 600 were overfitted (laptops 3.4 cm on the train split, 6.0 on the test
# seed's). Three more seeds of 2,400 subjects each, 12 dots of 1 frame, joined to the first by links
# (recording folders a*, b*, c*, d*); 4 epochs on two seeds, 4 on three, 2 on all four, each from the
# last run's best (--init-from does not read the face-in-view head, which is fitted once, at the end).
for i in 2 3 4; do
  [ -d "$work/train$i" ] || timed $foveal synth --setup phone=2,tablet=1,laptop=2,desktop=2 --recordings 2400 \
    --dots 12 --frames-per-dot 1 --seed $(( train_seed + i - 1 )) --out "$work/train$i"
done
link_recordings() {  # DIR SOURCE...: DIR gets a link per recording of each SOURCE, prefixed a, b, c, d, e
  local dir=$1 prefix=(a b c d e) i=0; shift; mkdir -p "$dir"
  for src in "$@"; do
    for rec in "$src"/*/; do ln -sfn "$(realpath "$rec")" "$dir/${prefix[$i]}$(basename "$rec")"; done
    i=$(( i + 1 ))
  done
}
link_recordings "$work/train12" "$work/train" "$work/train2"
link_recordings "$work/train123" "$work/train" "$work/train2" "$work/train3"
link_recordings "$work/train1234" "$work/train" "$work/train2" "$work/train3" "$work/train4"
more=("${presence[@]}" --presence-weight 10 --dropout 0.25)
[ -f "$work/more2/best.safetensors" ] || timed $foveal train --dataset "$work/train12" "${more[@]}" \
  --init-from "$work/joint4/best.safetensors" --epochs 4 --lr 2e-4 --seed 8 --out "$work/more2"
[ -f "$work/more3/best.safetensors" ] || timed $foveal train --dataset "$work/train123" "${more[@]}" \
  --init-from "$work/more2/best.safetensors" --epochs 4 --lr 1.5e-4 --seed 9 --out "$work/more3"
[ -f "$work/more4/best.safetensors" ] || timed $foveal train --dataset "$work/train1234" "${more[@]}" \
  --init-from "$work/more3/best.safetensors" --epochs 2 --lr 1e-4 --seed 10 --out "$work/more4"
# The sampler unfrozen at last (a later --saliency-lr overrides the recipe's 0): 2 epochs with the
# saliency path at 2e-5 and the rest at 5e-5. (3 more with both at 5e-5 drifted the map off the
# eyes: docs/experiments.md, "The sampler unfrozen".)
[ -f "$work/tuned1/best.safetensors" ] || timed $foveal train --dataset "$work/train1234" "${more[@]}" --saliency-lr 2e-5 \
  --init-from "$work/more4/best.safetensors" --epochs 2 --lr 5e-5 --seed 11 --out "$work/tuned1"
# 2 more at 5e-5 with the eye anchor holding the map on the eyes (docs/experiments.md, "The eye
# anchor"). best.safetensors is the first epoch's (the second scored lower on the whole
# validation split but fails ShippedModelAtADesk).
[ -f "$work/tuned3/best.safetensors" ] || timed $foveal train --dataset "$work/train1234" "${more[@]}" --saliency-lr 5e-5 \
  --eye-anchor 500 --init-from "$work/tuned1/best.safetensors" --epochs 2 --lr 5e-5 --seed 13 --out "$work/tuned3"
# A fifth seed of 2,400 subjects and one more epoch on all five, the rest at 3e-5 (docs/experiments.md,
# "A fifth seed").
[ -d "$work/train5" ] || timed $foveal synth --setup phone=2,tablet=1,laptop=2,desktop=2 --recordings 2400 \
  --dots 12 --frames-per-dot 1 --seed $(( train_seed + 4 )) --out "$work/train5"
link_recordings "$work/train12345" "$work/train" "$work/train2" "$work/train3" "$work/train4" "$work/train5"
[ -f "$work/tuned4/best.safetensors" ] || timed $foveal train --dataset "$work/train12345" "${more[@]}" --saliency-lr 5e-5 \
  --eye-anchor 500 --init-from "$work/tuned3/best.safetensors" --epochs 1 --lr 3e-5 --seed 15 --out "$work/tuned4"
# The face-in-view head (closed eyes or nobody there) on the frozen features; the rest stays. The
# file is written to average each frame's gaze with its mirror image's at inference
# (docs/experiments.md, "Mirror images at inference").
[ -f "$work/ss/best.safetensors" ] || timed $foveal train --dataset "$work/train1234" --face-from "$work/tuned4/best.safetensors" \
  --mirror-average on --out "$work/ss"
if [ -n "${TABLE1:-}" ] && [ ! -f "$work/an/best.safetensors" ]; then
  timed $foveal train "${common[@]}" --no-sampler --out "$work/an"
fi

timed $foveal eval --dataset "$work/test" --split test --baseline own-family-mean --json > "$work/constant-test.json"
timed $foveal eval --dataset "$work/test" --split test --weights "$work/ss/best.safetensors" --json > "$work/ss-test.json"
timed $foveal eval --dataset "$work/test" --split test --weights "$work/ss/best.safetensors" --calibrate 13 --json > "$work/ss-calibrated-test.json"
if [ -f "$work/an/best.safetensors" ]; then
  timed $foveal eval --dataset "$work/test" --split test --weights "$work/an/best.safetensors" --mirror-average on --json > "$work/an-test.json"
fi
python3 experiments/desk_table.py "$work"
