"""Foveal's model in PyTorch: the shared reference's GazeNet (../shared/reference/torch_reference.py,
the weight-name and numerics contract) plus what Foveal adds to it, with the same state_dict names
Foveal's Swift code reads.

Added: the presence head, `presence` = nn.Linear(hidden, 1) on AlexNet's penultimate features (the
output of classifier.5, after its ReLU): sigmoid of it is the probability that a face with open eyes
is in view. A configuration with "presence": true has it; one without reads as before.

Added: the face-in-view head, `face_in_view` = nn.Linear(1, 1) on the saliency map's entropy
(-sum S log S): sigmoid of it is the probability that a face is in view at all, its eyes open or
closed, which tells a blink from nobody there (the map, trained onto the eyes, spreads out when there
are none). A configuration with "face_in_view": true has it; it needs the sampler. Foveal fits it
after training (`foveal train --face-from`); the recipe never trains it.

Added: "mirror_average": true in a configuration averages, in eval mode, each frame's gaze (x
negated back) with that of the frame mirrored left-right. Foveal gets the same numbers without
mirroring the frame (Sources/FovealModel/MirrorAverage.swift); here the frame is simply flipped,
which is the definition. The saliency map, grid, presence and face-in-view probabilities stay the
frame's own. (Foveal also averages the penultimate features, which only its calibration reads.)
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
    """The reference GazeNet, with the presence and face-in-view heads when their flags are set."""

    def __init__(self, task_size=227, saliency_size=227, depth=10, width=64, alex_widths=(64, 192, 384, 256, 256),
                 hidden=4096, range_cm=30.0, use_sampler=True, presence=False, face_in_view=False, mirror_average=False):
        super().__init__(task_size, saliency_size, depth, width, alex_widths, hidden, range_cm, use_sampler)
        self.mirror_average = mirror_average
        self.presence = nn.Linear(hidden, 1) if presence else None
        self.face_in_view = nn.Linear(1, 1) if face_in_view else None

    @classmethod
    def from_config(cls, config):
        """A model from a weight file's configuration dict (the __metadata__["config"] JSON)."""
        return cls(config["task_size"], config["saliency_size"], config["depth"], config["saliency_width"],
                   tuple(config["alex_widths"]), config["hidden"], config["range_cm"], config["sampler"],
                   config.get("presence", False), config.get("face_in_view", False), config.get("mirror_average", False))

    def forward(self, image):
        out = self._single(image)
        if self.mirror_average and not self.training:
            m = self._single(image.flip(3))
            out["gaze_cm"] = (out["gaze_cm"] + m["gaze_cm"] * torch.tensor([-1.0, 1.0], device=image.device)) / 2
        if self.face_in_view is not None:
            out["face_in_view"] = torch.sigmoid(self.face_in_view(saliency_entropy(out["saliency"])[:, None])).squeeze(1)
        return out

    def _single(self, image):
        out = super().forward(image)
        if self.presence is not None:
            out["presence"] = torch.sigmoid(self.presence(self.penultimate(out["resampled"]))).squeeze(1)
        return out

    def penultimate(self, j):
        """AlexNet's features before its last layer: classifier.0-5 (dropout, linear, ReLU, twice)."""
        t = self.task
        x = F.adaptive_avg_pool2d(t.features(j), (6, 6))
        return t.classifier[:6](torch.flatten(x, 1))


def saliency_entropy(s):
    """-sum S log S of each (N, 1, G, G) saliency map, in nats (log(G * G) for a uniform map)."""
    return -torch.special.xlogy(s, s).sum((1, 2, 3))


def config_json(config):
    """The configuration as Foveal writes it: `presence`, `face_in_view` and `mirror_average` only when true."""
    c = dict(config)
    for flag in ("presence", "face_in_view", "mirror_average"):
        if not c.get(flag):
            c.pop(flag, None)
    return json.dumps(c)
