"""Compares `foveal predict --dump` output with the PyTorch reference's outputs for the same
weights and input: in float32 (the reference as written) and in float64 (the exact values).

usage: compare_outputs.py PREFIX DUMP.safetensors   (PREFIX as given to torch_reference.py --out)
Exit status 1 if gaze_cm, saliency or grid differ from the float32 reference by more than 1e-4,
or any output from the float64 values by more than 1e-4 (absolute, relative above 1).
"""
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures"))
from reference64 import float64_model, normalise64  # noqa: E402

prefix, dump = sys.argv[1], sys.argv[2]
net, c = float64_model(prefix)
io = load_file(prefix + ".io.safetensors")
with torch.no_grad():
    exact = net(normalise64(io["pixels"][:1]))
got = load_file(dump)
err = lambda a, b: float((np.abs(a - b) / np.maximum(1, np.abs(b))).max())
ok = True
print(f"{'output':10s} {'shape':18s} {'foveal-ref32':>13s} {'foveal-f64':>11s} {'ref32-f64':>10s}")
for k, v in got.items():
    if k not in io or k not in exact:  # e.g. the presence head's features, which the reference lacks
        print(f"{k:10s} {str(tuple(v.shape)):18s} (not in the reference)")
        continue
    g, r, e = v.double().numpy(), io[k][:1].double().numpy(), exact[k].numpy()
    a, b, t = err(g, r), err(g, e), err(r, e)
    print(f"{k:10s} {str(tuple(v.shape)):18s} {a:13.2e} {b:11.2e} {t:10.2e}")
    ok &= b <= 1e-4 and (k == "resampled" or a <= 1e-4)
print("parity: ok" if ok else "parity: FAILED")
sys.exit(0 if ok else 1)
