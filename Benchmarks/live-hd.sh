#!/usr/bin/env bash
# Live tracking at a desk, in real time: `foveal track --source FILE --fps 30` with the shipped
# model on a synthetic laptop recording (480 frames: 16 dots, 16 s at 30 fps) at 1280x720 and 1920x1080, from a
# Motion-JPEG file (decoded by Foveal with libjpeg-turbo, as a UVC webcam's MJPEG is) and from a
# Y4M file (4:2:0, converted by Foveal, as a webcam's YUYV is). Latency is capture (the frame's
# due time) to gaze; dropped frames are those whose time passed before the tracker was ready.
# ROUNDS rounds alternate the sources; the table gives the median p50 and the worst p99.
# Usage: Benchmarks/live-hd.sh [ROUNDS]   (needs .build/release/foveal and .venv-ref for the Y4M writer)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
foveal=${FOVEAL:-.build/release/foveal}
python=${PYTHON:-.venv-ref/bin/python}
work=$(mktemp -d /tmp/foveal-live-hd.XXXXXX)
trap 'rm -rf "$work"' EXIT

for size in 1280x720 1920x1080; do
  "$foveal" synth --out "$work/$size" --recordings 1 --seed 77 --dots 16 --frames-per-dot 30 --setup laptop \
    --frame-size "$size" > /dev/null
  rec=$(ls -d "$work/$size"/0*)
  "$python" - "$rec" "$work/$size" <<'EOF'
import json, sys
import numpy as np
from PIL import Image
rec, out = sys.argv[1], sys.argv[2]
names = json.load(open(rec + "/frames.json"))
with open(out + ".mjpeg", "wb") as mjpeg, open(out + ".y4m", "wb") as y4m:
    for k, name in enumerate(names):
        data = open(rec + "/frames/" + name, "rb").read()
        mjpeg.write(data)
        rgb = np.asarray(Image.open(rec + "/frames/" + name).convert("RGB")).astype(np.float32)
        h, w = rgb.shape[:2]
        if k == 0:
            y4m.write(f"YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n".encode())
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        # BT.601 video range, what ffmpeg's yuv420p holds.
        planes = [16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255,
                  128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255,
                  128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255]
        planes[1:] = [p.reshape(h // 2, 2, w // 2, 2).mean((1, 3)) for p in planes[1:]]
        y4m.write(b"FRAME\n")
        for p in planes:
            y4m.write(np.clip(np.round(p), 0, 255).astype(np.uint8).tobytes())
EOF
done

for r in $(seq "$rounds"); do
  for size in 1280x720 1920x1080; do
    for kind in mjpeg y4m; do
      "$foveal" track --source "$work/$size.$kind" --fps 30 --format jsonl 2>&1 >/dev/null | tail -1 > "$work/$size-$kind-$r.txt"
    done
  done
done

"$python" - "$work" "$rounds" <<'EOF'
import re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
print("| frames | source | fps | dropped | p50 (median of rounds) | p99 (worst round) |")
print("|---|---|---|---|---|---|")
for size in ["1280x720", "1920x1080"]:
    for kind, name in [("mjpeg", "Motion-JPEG (decoded)"), ("y4m", "Y4M 4:2:0 (converted)")]:
        runs = []
        for r in range(1, rounds + 1):
            line = open(f"{work}/{size}-{kind}-{r}.txt").read()
            m = re.search(r"(\d+) frames in [\d.]+ s \(([\d.]+) fps\), latency p50 ([\d.]+) ms p99 ([\d.]+) ms, dropped (\d+)", line)
            runs.append(tuple(float(x) for x in m.groups()))
        dropped, shown = int(sum(x[4] for x in runs)), int(sum(x[0] + x[4] for x in runs))
        print(f"| {size} | {name} | {min(x[1] for x in runs):.1f} | {dropped} of {shown} "
              f"| {statistics.median(x[2] for x in runs):.1f} ms | {max(x[3] for x in runs):.1f} ms |")
EOF
