"""Prints the Table 1 markdown from the JSON reports experiments/table1.sh writes."""
import json
import os
import struct
import sys

work = sys.argv[1]
load = lambda path: json.load(open(os.path.join(work, path)))


def task_size(run):
    """The task input side from the config in RUN/best.safetensors' metadata (its JSON header)."""
    try:
        with open(os.path.join(work, run, "best.safetensors"), "rb") as f:
            header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
        return f"{json.loads(header['__metadata__']['config'])['task_size']} px"
    except (OSError, KeyError, ValueError, struct.error):
        return "? px"


rows = [("best constant: the train split's mean label", "baseline-mean.json"),
        ("best constant per family: its mean label", "baseline-family-mean.json"),
        (f"plain AlexNet, {task_size('an')} (area downsampling)", "an/test.json"),
        (f"AlexNet + saliency sampler, {task_size('ss-frozen')}, saliency pretrained on eye boxes, frozen", "ss-frozen/test.json"),
        (f"AlexNet + saliency sampler, {task_size('ss-e2e')}, pretrained, then end to end (0.1x rate, blur warm-up)", "ss-e2e/test.json"),
        (f"AlexNet + saliency sampler, {task_size('ss-e2e-slow')}, pretrained, then end to end (0.01x rate, blur warm-up)", "ss-e2e-slow/test.json")]
reports = {f: load(f) for _, f in rows if os.path.exists(os.path.join(work, f))}
families = ["iPhone", "iPad"]
print("| model | " + " | ".join(f"{f} (cm)" for f in families) + " | all (cm) |")
print("|---|" + "---|" * (len(families) + 1))
for label, f in rows:
    if f not in reports:
        continue
    r = reports[f]
    cells = [f"{r['families'][fam]['mean_cm']:.2f}" if fam in r["families"] else "-" for fam in families]
    print(f"| {label} | " + " | ".join(cells) + f" | {r['overall']['mean_cm']:.2f} |")
constant, per_family, plain = reports.get("baseline-mean.json"), reports.get("baseline-family-mean.json"), reports.get("an/test.json")
print()
print("| ratio | " + " | ".join(families) + " | all |")
print("|---|" + "---|" * (len(families) + 1))
for label, f in rows[3:]:
    if f not in reports:
        continue
    for name, base in (("best constant (mean label)", constant), ("constant per family", per_family), ("plain AlexNet", plain)):
        if base is None:
            continue
        r = reports[f]
        cells = [f"{r['families'][fam]['mean_cm'] / base['families'][fam]['mean_cm']:.2f}" for fam in families]
        short = {"ss-frozen": "frozen", "ss-e2e": "end to end", "ss-e2e-slow": "end to end, 0.01x"}[f.split("/")[0]]
        print(f"| AN+SS ({short}) / {name} | " + " | ".join(cells) + f" | {r['overall']['mean_cm'] / base['overall']['mean_cm']:.2f} |")
