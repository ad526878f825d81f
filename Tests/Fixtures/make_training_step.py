"""Regenerates Tests/Fixtures/model/trainstep_*.safetensors from training/recipe.py (PyTorch).

    .venv-ref/bin/python Tests/Fixtures/make_training_step.py
"""
import os
import sys

import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "training"))
import foveal_model  # noqa: E402

# One training step of training/recipe.py (the PyTorch trainer), which a step of `foveal train`
# must take too: a small model, three smooth 8-bit frames (a random-noise frame makes the
# saliency gradients ill-conditioned, see float64_outputs), their labels, and after the step the
# loss, the clipped gradients, the weights and the BatchNorm running statistics. Case "e2e" trains
# the saliency path at its own rate; case "blur" freezes it and blurs (the warm-up); case
# "presence" trains the presence head with the network (the second frame marked invalid: no gaze
# error, a negative for the head's cross-entropy, weighted 0.5); case "anchor" trains the saliency
# path with the eye anchor (`--eye-anchor`) on two of the frames. The clip is below the gradient
# norm, so clipping is exercised.
import recipe  # noqa: E402

step_config = {"task_size": 64, "saliency_size": 48, "depth": 10, "saliency_width": 8,
               "alex_widths": [8, 16, 24, 16, 16], "hidden": 32, "range_cm": 30.0, "sampler": True}
yy, xx = torch.meshgrid(torch.arange(72.0), torch.arange(96.0), indexing="ij")
frames = []
for k in range(3):
    cx, cy = 30 + 15 * k, 30 + 5 * k
    blob = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 60) + torch.exp(-((xx - cx - 20) ** 2 + (yy - cy) ** 2) / 60)
    frames.append(torch.stack([60 + 2 * xx, 80 + 1.5 * yy + 40 * k, 120 + 110 * blob - xx], -1))
step_pixels = torch.stack(frames).round().clamp(0, 255).to(torch.uint8)
step_labels = torch.tensor([[3.0, -4.0], [-6.5, 2.0], [1.0, -12.0]])
step_valid = torch.tensor([True, False, True])
cases = {"e2e": dict(saliency_lr=2e-4, blur=None), "blur": dict(saliency_lr=0.0, blur=40),
         "presence": dict(saliency_lr=0.0, blur=None, presence_weight=0.5),
         "anchor": dict(saliency_lr=2e-4, blur=None, eye_anchor=20.0)}
# Case "anchor": the eye anchor on frames 0 and 2, at their blobs' centres (frame 1 has no eyes).
eye_targets = torch.stack([recipe.eye_target([(30 + 15 * k, 30 + 5 * k), (50 + 15 * k, 30 + 5 * k)], 96, 72) for k in range(3)])
eye_mask = torch.tensor([True, False, True])
for case, settings in cases.items():
    torch.manual_seed(31)
    joint = "presence_weight" in settings
    config = {**step_config, "presence": True} if joint else step_config
    net = foveal_model.FovealGazeNet.from_config(config)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1); m.running_var.uniform_(0.5, 1.5)
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    before = {k: v.clone().contiguous() for k, v in net.state_dict().items() if v.is_floating_point()}
    forward = recipe.TrainingForward(net.train(), settings["saliency_lr"] > 0)
    optimizer = recipe.make_optimizer(net, "adam", 1e-3, settings["saliency_lr"], 0.0)
    mse, bce, norm = recipe.train_step(forward, optimizer, step_pixels, step_labels, step_valid if joint else None, rate=1e-3,
                                       saliency_rate=settings["saliency_lr"], clip=1.0, blur_side=settings["blur"],
                                       presence_weight=settings.get("presence_weight", 1.0),
                                       eye_targets=eye_targets, eye_mask=eye_mask, eye_anchor=settings.get("eye_anchor", 0.0))
    after = {"after." + k: v.clone().contiguous() for k, v in net.state_dict().items() if v.is_floating_point()}
    grads = {"grad." + k: p.grad.contiguous() for k, p in net.named_parameters() if p.grad is not None}
    meta = {"config": foveal_model.config_json(config), "lr": "1e-3", "saliency_lr": str(settings["saliency_lr"]),
            "clip": "1.0", "blur_side": str(settings["blur"] or 0), "norm": str(norm)}
    extra = {}
    if joint:
        meta["presence_weight"] = str(settings["presence_weight"])
        extra = {"valid": step_valid.float(), "presence_bce": torch.tensor([bce])}
    if "eye_anchor" in settings:
        meta["eye_anchor"] = str(settings["eye_anchor"])
        extra = {"eye_targets": eye_targets.contiguous(), "eye_mask": eye_mask.float()}
    save_file({**before, **after, **grads, **extra, "pixels": step_pixels.float().contiguous(), "labels": step_labels,
               "loss": torch.tensor([mse])}, os.path.join(here, "model", f"trainstep_{case}.safetensors"), metadata=meta)
    print(f"training step {case}: loss {mse:.4f}, gradient norm {norm:.3f} (clipped to 1)")
