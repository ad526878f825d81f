"""How dark a frame can get before Foveal cannot read it: the validation recordings of a dataset,
darkened as a camera at the end of its gain would darken them (pixels scaled by k, then sensor noise
of sigma 2 levels, rounded), evaluated with `foveal eval --json --predictions` at each k. Prints,
per k, the mean BT.601 luma of the frames, the mean error and the share of frames the presence head
calls a face; then, over every frame of every k, the mean error by the frame's own mean luma.

Usage: python3 experiments/low_light.py DATASET FOVEAL_BINARY WEIGHTS OUT_DIR
(run here on the training seed's validation split: /work/data-desk/train101 of experiments/desk.sh)
(needs numpy and pillow; the table it prints is what chose Foveal's low-light threshold)."""
import json, os, subprocess, sys
import numpy as np
from PIL import Image

dataset, foveal, weights, out = sys.argv[1:5]
levels = [1.0, 0.4, 0.2, 0.12, 0.08, 0.05, 0.03]
rng = np.random.default_rng(7)
# Every fourth validation recording (20 of seed 101's 80), all their frames.
val = [r for r in sorted(os.listdir(dataset)) if json.load(open(f"{dataset}/{r}/info.json"))["Dataset"] == "val"][::4]
os.makedirs(out, exist_ok=True)
rows, by_luma = [], []
for k in levels:
    root = f"/tmp/foveal-dark/{k}"
    lumas = []
    frame_luma = {}
    for r in val:
        src, dst = f"{dataset}/{r}", f"{root}/{r}"
        os.makedirs(dst + "/frames", exist_ok=True)
        for name in os.listdir(src):
            if name.endswith(".json") and not os.path.exists(f"{dst}/{name}"):
                os.symlink(f"{os.path.abspath(src)}/{name}", f"{dst}/{name}")
        for name in sorted(os.listdir(src + "/frames")):
            target = f"{dst}/frames/{name}"
            if not os.path.exists(target):
                pixels = np.asarray(Image.open(f"{src}/frames/{name}").convert("RGB"), dtype=np.float64)
                dark = np.clip(np.round(pixels * k + rng.normal(0, 2, pixels.shape) * (k < 1)), 0, 255).astype(np.uint8)
                Image.fromarray(dark).save(target, quality=92)
            luma = float((np.asarray(Image.open(target).convert("RGB"), dtype=np.float64) @ [0.299, 0.587, 0.114]).mean())
            lumas.append(luma)
            frame_luma[f"{r}/{int(name.split('.')[0])}"] = luma
    predictions = f"/tmp/foveal-dark/predictions-{k}.jsonl"
    report = subprocess.run([foveal, "eval", "--dataset", root, "--split", "val", "--weights", weights, "--json",
                             "--predictions", predictions], capture_output=True, text=True, check=True).stdout
    for line in open(predictions):
        p = json.loads(line)
        (tx, ty), (px, py) = p["target_cm"], p["predicted_cm"]
        by_luma.append((frame_luma[f"{p['recording']}/{p['frame']}"], float(np.hypot(px - tx, py - ty))))
    json.dump(json.loads(report), open(f"{out}/val-k{k}.json", "w"), indent=1)
    r = json.loads(report)
    presence = r.get("presence", {})
    rows.append((k, float(np.mean(lumas)), float(np.percentile(lumas, 10)), r["overall"]["mean_cm"], presence))
    print(f"k {k:5}: mean luma {rows[-1][1]:6.1f} (10th pct {rows[-1][2]:5.1f})  error {r['overall']['mean_cm']:.2f} cm  presence {json.dumps(presence)}", flush=True)

# Every frame of every k, by its own mean luma: where does the error grow?
by_luma.sort()
edges = [0, 4, 6, 8, 10, 12, 15, 20, 25, 30, 40, 60, 256]
well_lit = [e for l, e in by_luma if l >= 60]
print(f"frames at luma >= 60: mean error {np.mean(well_lit):.2f} cm ({len(well_lit)} frames)")
table = []
for lo, hi in zip(edges, edges[1:]):
    errors = [e for l, e in by_luma if lo <= l < hi]
    if errors:
        table.append({"luma_from": lo, "luma_to": hi, "frames": len(errors), "mean_error_cm": float(np.mean(errors))})
        print(f"luma {lo:3}-{hi:3}: {len(errors):5} frames, mean error {np.mean(errors):6.2f} cm ({np.mean(errors) / np.mean(well_lit):.2f}x)")
json.dump(table, open(f"{out}/error-by-luma.json", "w"), indent=1)
