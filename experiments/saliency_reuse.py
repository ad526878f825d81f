"""Saliency reuse across video frames, measured: each recording of a split is tracked (`foveal
track --source REC --fps 0`) with the saliency network on every frame, and with reuse at a ceiling
of N frames and a threshold T on the low-resolution copy's mean absolute change. Prints, per
setting, the mean error against the labels (frames with a face), the change from every-frame, the
share of frames that reused a grid, and the time per frame.

Usage: python3 experiments/saliency_reuse.py DATASET SPLIT FOVEAL WEIGHTS OUT.json N:T [N:T ...]
Thresholds are chosen on the training seed's validation split and reported on the test seed."""
import json, os, re, subprocess, sys, time

dataset, split, foveal, weights, out = sys.argv[1:6]
settings = [(1, 0.0)] + [(int(a), float(b)) for a, b in (s.split(":") for s in sys.argv[6:])]
recordings = [r for r in sorted(os.listdir(dataset)) if json.load(open(f"{dataset}/{r}/info.json"))["Dataset"] == split]
results = []
for every, threshold in settings:
    per_family, reused, total, seconds = {}, 0, 0, 0.0
    for r in recordings:
        family = "phone/tablet" if "iP" in json.load(open(f"{dataset}/{r}/info.json"))["DeviceName"] else "desk"
        cmd = [foveal, "track", "--source", f"{dataset}/{r}", "--weights", weights, "--format", "jsonl", "--fps", "0",
               "--saliency-every", str(every), "--saliency-threshold", str(threshold)]
        start = time.time()
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            continue  # a recording with no valid frame
        frames = [json.loads(l) for l in run.stdout.splitlines()]
        seconds += sum(f["latency_ms"] for f in frames) / 1000
        errors = [((f["gaze_cm"][0] - f["label_cm"][0]) ** 2 + (f["gaze_cm"][1] - f["label_cm"][1]) ** 2) ** 0.5
                  for f in frames if f.get("gaze_cm") and f.get("label_cm")]
        per_family.setdefault(family, []).extend(errors)
        total += len(frames)
        m = re.search(r"saliency map reused on (\d+) of (\d+)", run.stderr)
        if m: reused += int(m.group(1))
    row = {"every": every, "threshold": threshold, "frames": total, "reuse_rate": reused / max(1, total),
           "ms_per_frame": 1000 * seconds / max(1, total)}
    for family, errors in sorted(per_family.items()):
        row[f"{family}_mean_cm"] = sum(errors) / len(errors)
    results.append(row)
    base = results[0]
    print(f"every {every:2} threshold {threshold:5.3f}: reuse {100 * row['reuse_rate']:5.1f}%  latency {row['ms_per_frame']:5.2f} ms  "
          + "  ".join(f"{k} {v:.3f} ({100 * (v / base[k] - 1):+.1f}%)" for k, v in row.items() if k.endswith("_mean_cm")), flush=True)
json.dump(results, open(out, "w"), indent=1)
