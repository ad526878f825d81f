#!/usr/bin/env bash
# The paper-size model live at a desk: `foveal track --source FILE --fps 30` on a synthetic 720p
# laptop recording (Motion-JPEG, decoded by Foveal as a UVC webcam's is; 16 dots of 30 frames),
# with the saliency network on every frame and with its map reused (`--saliency-every 8` and 30),
# in float32 and with bfloat16 fully connected weights. The settings alternate for ROUNDS rounds
# in one run. The weights are the random ones of Benchmarks/peer_inference.py (no trained
# paper-size model exists here), so this measures speed, not error.
# Usage: Benchmarks/paper-live.sh [ROUNDS]   (needs .build/release/foveal and .venv-ref)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
foveal=${FOVEAL:-.build/release/foveal}
python=${PYTHON:-.venv-ref/bin/python}
work=$(mktemp -d /tmp/foveal-paper-live.XXXXXX)
trap 'rm -rf "$work"' EXIT

"$python" Benchmarks/peer_inference.py --prepare "$work/model" > /dev/null
"$foveal" synth --out "$work/rec" --recordings 1 --seed 77 --dots 16 --frames-per-dot 30 --setup laptop \
  --frame-size 1280x720 > /dev/null
rec=$(ls -d "$work/rec"/0*)
"$python" - "$rec" "$work/laptop.mjpeg" <<'EOF'
import json, sys
rec, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as mjpeg:
    for name in json.load(open(rec + "/frames.json")):
        mjpeg.write(open(rec + "/frames/" + name, "rb").read())
EOF

settings=("1 f32" "8 f32" "30 f32" "30 bf16")
for r in $(seq "$rounds"); do
  for s in "${settings[@]}"; do
    set -- $s
    "$foveal" track --source "$work/laptop.mjpeg" --fps 30 --weights "$work/model/model.safetensors" \
      --saliency-every "$1" --fc-precision "$2" --format jsonl 2>&1 >/dev/null | tail -1 > "$work/$1-$2-$r.txt"
  done
done

"$python" - "$work" "$rounds" "${settings[@]}" <<'EOF'
import re, sys
work, rounds, settings = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print("| saliency network | FC weights | fps per round | dropped | map reused |")
print("|---|---|---|---|---|")
for s in settings:
    every, precision = s.split()
    fps, dropped, reused = [], 0, []
    for r in range(1, rounds + 1):
        line = open(f"{work}/{every}-{precision}-{r}.txt").read()
        m = re.search(r"\(([\d.]+) fps\).*dropped (\d+)", line)
        if not m:
            sys.exit(f"no summary in round {r} of {s}: {line!r}")
        fps.append(m.group(1)); dropped += int(m.group(2))
        u = re.search(r"reused on \d+ of \d+ frames \((\d+)%\)", line)
        reused.append(u.group(1) + "%" if u else "-")
    label = "every frame" if every == "1" else f"--saliency-every {every}"
    print(f"| {label} | {precision} | {', '.join(fps)} | {dropped} | {', '.join(reused)} |")
EOF
