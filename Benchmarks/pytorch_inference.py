"""PyTorch CPU side of the inference benchmark: the reference GazeNet, the same frame size and
the same path (uint8 frame -> /255 -> ImageNet normalisation -> forward), batch 1.

Prints one JSON object: {"p50": ms, "p90": ms, "p99": ms, "threads": n}.
"""
import argparse, json, os, sys, time

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "shared", "reference"))
import torch_reference as R  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--iterations", type=int, default=30)
p.add_argument("--size", default="640x480")
a = p.parse_args()
torch.set_num_threads(a.threads)
w, h = (int(v) for v in a.size.split("x"))
net = R.GazeNet().eval()  # the paper configuration: 227/227, depth 10, full widths
frame = torch.randint(0, 256, (1, h, w, 3), dtype=torch.uint8)
mean = torch.tensor(R.IMAGENET_MEAN)[None, :, None, None]
std = torch.tensor(R.IMAGENET_STD)[None, :, None, None]


def step():
    x = frame.permute(0, 3, 1, 2).float() / 255
    return net((x - mean) / std)["gaze_cm"]


with torch.inference_mode():
    for _ in range(3):
        step()
    times = []
    for _ in range(a.iterations):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1000)
times.sort()
pick = lambda q: times[min(len(times) - 1, max(0, int(-(-q * len(times) // 1)) - 1))]
print(json.dumps({"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "threads": a.threads}))
