"""Prints the README's desk tables from experiments/desk.sh's reports (WORK_DIR/*.json)."""
import json
import os
import sys

work = sys.argv[1] if len(sys.argv) > 1 else "experiments/desk-work"


def load(name):
    path = os.path.join(work, name)
    return json.load(open(path)) if os.path.exists(path) else None


families = ["iPhone", "iPad", "laptop", "monitor"]
constant, model, calibrated, plain = (load(f"{n}-test.json") for n in ["constant", "ss", "ss-calibrated", "an"])
if not (constant and model):
    sys.exit(f"{work}: no constant-test.json and ss-test.json")
print(f"\nsplit test: {constant['overall']['frames']} valid frames")
print("| family | frames | best constant | uncalibrated | ratio | `--calibrate 13`: before | after | gain |"
      + (" plain AlexNet | AN+SS / AN |" if plain else ""))
print("|---|---|---|---|---|---|---|---|" + ("---|---|" if plain else ""))
for f in families:
    c, m = constant["families"].get(f), model["families"].get(f)
    if not (c and m):
        continue
    row = f"| {f} | {m['frames']} | {c['mean_cm']:.2f} cm | {m['mean_cm']:.2f} cm | {m['mean_cm'] / c['mean_cm']:.2f}x |"
    if calibrated and f in calibrated["calibrated"]:
        b, a = calibrated["uncalibrated"][f]["mean_cm"], calibrated["calibrated"][f]["mean_cm"]
        row += f" {b:.2f} cm | {a:.2f} cm | {100 * (a - b) / b:+.0f}% |"
    else:
        row += " | | |"
    if plain and f in plain["families"]:
        p = plain["families"][f]["mean_cm"]
        row += f" {p:.2f} cm | {m['mean_cm'] / p:.2f}x |"
    print(row)
if model.get("presence"):
    p = model["presence"]
    print(f"\npresence: {100 * p['accuracy']:.2f}% of {p['frames']} frames right "
          f"(face with open eyes {100 * p['face_correct'] / max(1, p['face_frames']):.2f}% of {p['face_frames']}, "
          f"none {100 * p['no_face_correct'] / max(1, p['no_face_frames']):.2f}% of {p['no_face_frames']})")
times = os.path.join(work, "times.txt")
if os.path.exists(times):
    print("\n" + open(times).read())
