"""Compares `foveal predict --dump` output with the PyTorch reference's outputs for the same
weights and input: in float32 (the reference as written) and in float64 (the exact values).

usage: compare_outputs.py PREFIX DUMP.safetensors   (PREFIX as given to torch_reference.py --out)
Exit status 1 if gaze_cm, saliency or grid differ from the float32 reference by more than 1e-4,
or any output from the float64 values by more than 1e-4 (absolute, relative above 1).
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "reference"))
import torch_reference as R  # noqa: E402

prefix, dump = sys.argv[1], sys.argv[2]
with safe_open(prefix + ".weights.safetensors", "pt") as f:
    c = json.loads(f.metadata()["config"])
net = R.GazeNet(c["task_size"], c["saliency_size"], c["depth"], c["saliency_width"], tuple(c["alex_widths"]),
                c["hidden"], c["range_cm"], c["sampler"])
net.load_state_dict(load_file(prefix + ".weights.safetensors"), strict=False)
net = net.double().eval()
if c["sampler"]:
    net.sampler.kernel = R.gaussian_kernel(61, 13.0).double()[None, None]
    net.sampler.basis = net.sampler.basis.double()
io = load_file(prefix + ".io.safetensors")
mean = torch.tensor(R.IMAGENET_MEAN, dtype=torch.float64)[None, :, None, None]
std = torch.tensor(R.IMAGENET_STD, dtype=torch.float64)[None, :, None, None]
with torch.no_grad():
    exact = net((io["pixels"][:1].double() - mean) / std)
got = load_file(dump)
err = lambda a, b: float((np.abs(a - b) / np.maximum(1, np.abs(b))).max())
ok = True
print(f"{'output':10s} {'shape':18s} {'foveal-ref32':>13s} {'foveal-f64':>11s} {'ref32-f64':>10s}")
for k, v in got.items():
    g, r, e = v.double().numpy(), io[k][:1].double().numpy(), exact[k].numpy()
    a, b, t = err(g, r), err(g, e), err(r, e)
    print(f"{k:10s} {str(tuple(v.shape)):18s} {a:13.2e} {b:11.2e} {t:10.2e}")
    ok &= b <= 1e-4 and (k == "resampled" or a <= 1e-4)
print("parity: ok" if ok else "parity: FAILED")
sys.exit(0 if ok else 1)
