"""The peers' side of the inference benchmark: PyTorch eager and ONNX Runtime running the same
paper-size GazeNet (the reference, random weights from --seed) on the same path (uint8 frame ->
/255 -> ImageNet normalisation -> forward), batch 1.

  --prepare DIR   writes DIR/model.safetensors (the weights, for `foveal bench --weights`) and
                  DIR/model.onnx (torch.onnx.export(..., dynamo=True)), and checks that ONNX
                  Runtime's gaze agrees with PyTorch's on a random frame (prints the difference)
  --engine torch|onnxruntime --model DIR   times one engine; prints {"p50", "p90", "p99"} in ms

ONNX Runtime: CPU execution provider, ORT_ENABLE_ALL, --threads intra-op threads.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "shared", "reference"))
import torch_reference as R  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--prepare", metavar="DIR")
p.add_argument("--engine", choices=["torch", "onnxruntime"])
p.add_argument("--model", metavar="DIR")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--iterations", type=int, default=30)
p.add_argument("--size", default="640x480")
a = p.parse_args()
torch.set_num_threads(a.threads)
w, h = (int(v) for v in a.size.split("x"))
mean = torch.tensor(R.IMAGENET_MEAN)[None, :, None, None]
std = torch.tensor(R.IMAGENET_STD)[None, :, None, None]


class FromPixels(torch.nn.Module):
    """The path from a uint8 HWC frame to the gaze, as Foveal runs it."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, frame):
        x = frame.permute(0, 3, 1, 2).float() / 255
        return self.net((x - mean) / std)["gaze_cm"]


def network():
    torch.manual_seed(a.seed)
    net = R.GazeNet().eval()  # the paper configuration: 227/227, depth 10, full widths
    if a.model:
        from safetensors.torch import load_file
        net.load_state_dict(load_file(os.path.join(a.model, "model.safetensors")), strict=False)
    return FromPixels(net).eval()


frame = torch.randint(0, 256, (1, h, w, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))

if a.prepare:
    from safetensors.torch import save_file
    os.makedirs(a.prepare, exist_ok=True)
    model = network()
    config = {"task_size": 227, "saliency_size": 227, "depth": 10, "saliency_width": 64,
              "alex_widths": [64, 192, 384, 256, 256], "hidden": 4096, "range_cm": 30.0, "sampler": True}
    save_file({k: v.contiguous() for k, v in model.net.state_dict().items()}, os.path.join(a.prepare, "model.safetensors"),
              metadata={"config": json.dumps(config)})
    path = os.path.join(a.prepare, "model.onnx")
    torch.onnx.export(model, (frame,), path, dynamo=True, input_names=["frame"], output_names=["gaze_cm"])
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        reference = model(frame).numpy()
    got = session.run(None, {"frame": frame.numpy()})[0]
    print(json.dumps({"onnxruntime_vs_torch_max_abs_cm": float(np.abs(got - reference).max()), "gaze_cm": reference.tolist()}))
    sys.exit(0)

if a.engine == "torch":
    model = network()

    def step():
        with torch.inference_mode():
            return model(frame)
else:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = a.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(os.path.join(a.model, "model.onnx"), options, providers=["CPUExecutionProvider"])
    feed = {"frame": frame.numpy()}

    def step():
        return session.run(None, feed)

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
