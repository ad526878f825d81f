"""How dark a frame can get before Foveal cannot read it: the validation recordings of a dataset,
darkened as a camera at the end of its gain would darken them (pixels scaled by k, then sensor noise
of sigma 2 levels, rounded), evaluated with `foveal eval --json` at each k. Prints, per k, the mean
BT.601 luma of the frames, the mean error and the share of frames the presence head calls a face.

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
rows = []
for k in levels:
    root = f"/tmp/foveal-dark/{k}"
    lumas = []
    for r in val:
        src, dst = f"{dataset}/{r}", f"{root}/{r}"
        os.makedirs(dst + "/frames", exist_ok=True)
        for name in os.listdir(src):
            if name.endswith(".json") and not os.path.exists(f"{dst}/{name}"):
                os.symlink(f"{os.path.abspath(src)}/{name}", f"{dst}/{name}")
        for name in sorted(os.listdir(src + "/frames")):
            pixels = np.asarray(Image.open(f"{src}/frames/{name}").convert("RGB"), dtype=np.float64)
            dark = np.clip(np.round(pixels * k + rng.normal(0, 2, pixels.shape) * (k < 1)), 0, 255).astype(np.uint8)
            lumas.append(float((dark.astype(np.float64) @ [0.299, 0.587, 0.114]).mean()))
            Image.fromarray(dark).save(f"{dst}/frames/{name}", quality=92)
    report = subprocess.run([foveal, "eval", "--dataset", root, "--split", "val", "--weights", weights, "--json"],
                            capture_output=True, text=True, check=True).stdout
    json.dump(json.loads(report), open(f"{out}/val-k{k}.json", "w"), indent=1)
    r = json.loads(report)
    presence = r.get("presence", {})
    rows.append((k, float(np.mean(lumas)), float(np.percentile(lumas, 10)), r["overall"]["mean_cm"], presence))
    print(f"k {k:5}: mean luma {rows[-1][1]:6.1f} (10th pct {rows[-1][2]:5.1f})  error {r['overall']['mean_cm']:.2f} cm  presence {json.dumps(presence)}", flush=True)
