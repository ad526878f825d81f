"""Foveal's model in PyTorch: the shared reference's GazeNet (../shared/reference/torch_reference.py,
the weight-name and numerics contract) plus what Foveal adds to it, with the same state_dict names
Foveal's Swift code reads.

Added: the presence head, `presence` = nn.Linear(hidden, 1) on AlexNet's penultimate features (the
output of classifier.5, after its ReLU): sigmoid of it is the probability that a face with open eyes
is in view. A configuration with "presence": true has it; one without reads as before.
"""
import importlib.util
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

_DEFAULT_REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "reference",
                                  "torch_reference.py")


def load_reference(path=None):
    """The reference module (torch_reference.py), from `path` or $FOVEAL_REFERENCE or ../shared/reference."""
    path = path or os.environ.get("FOVEAL_REFERENCE") or _DEFAULT_REFERENCE
    spec = importlib.util.spec_from_file_location("torch_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


R = load_reference()


class FovealGazeNet(R.GazeNet):
    """The reference GazeNet, with the presence head when `presence` is set."""

    def __init__(self, task_size=227, saliency_size=227, depth=10, width=64, alex_widths=(64, 192, 384, 256, 256),
                 hidden=4096, range_cm=30.0, use_sampler=True, presence=False):
        super().__init__(task_size, saliency_size, depth, width, alex_widths, hidden, range_cm, use_sampler)
        self.presence = nn.Linear(hidden, 1) if presence else None

    @classmethod
    def from_config(cls, config):
        """A model from a weight file's configuration dict (the __metadata__["config"] JSON)."""
        return cls(config["task_size"], config["saliency_size"], config["depth"], config["saliency_width"],
                   tuple(config["alex_widths"]), config["hidden"], config["range_cm"], config["sampler"],
                   config.get("presence", False))

    def forward(self, image):
        out = super().forward(image)
        if self.presence is not None:
            out["presence"] = torch.sigmoid(self.presence(self.penultimate(out["resampled"]))).squeeze(1)
        return out

    def penultimate(self, j):
        """AlexNet's features before its last layer: classifier.0-5 (dropout, linear, ReLU, twice)."""
        t = self.task
        x = F.adaptive_avg_pool2d(t.features(j), (6, 6))
        return t.classifier[:6](torch.flatten(x, 1))


def config_json(config):
    """The configuration as Foveal writes it: `presence` only when true."""
    c = dict(config)
    if not c.get("presence"):
        c.pop("presence", None)
    return json.dumps(c)
