"""The PyTorch reference model of a torch_reference.py fixture, in float64: the exact values that
float32 implementations (PyTorch's own included) approximate. Used by make_fixtures.py and
Benchmarks/compare_outputs.py."""
import json
import os
import sys

import torch

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "reference")
sys.path.insert(0, REFERENCE)
import torch_reference as R  # noqa: E402


def float64_model(prefix):
    """(model in float64 and eval mode, its config) for PREFIX.weights.safetensors."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    with safe_open(prefix + ".weights.safetensors", "pt") as f:
        c = json.loads(f.metadata()["config"])
    net = R.GazeNet(c["task_size"], c["saliency_size"], c["depth"], c["saliency_width"], tuple(c["alex_widths"]),
                    c["hidden"], c["range_cm"], c["sampler"])
    net.load_state_dict(load_file(prefix + ".weights.safetensors"), strict=False)
    net = net.double().eval()
    if c["sampler"]:
        net.sampler.kernel = R.gaussian_kernel(61, 13.0).double()[None, None]
        net.sampler.basis = net.sampler.basis.double()
    return net, c


def normalise64(pixels):
    """Pixels in [0, 1] -> the ImageNet normalisation, in float64."""
    mean = torch.tensor(R.IMAGENET_MEAN, dtype=torch.float64)[None, :, None, None]
    std = torch.tensor(R.IMAGENET_STD, dtype=torch.float64)[None, :, None, None]
    return (pixels.double() - mean) / std
