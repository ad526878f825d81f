"""Foveal's training recipe in PyTorch: one step computes what a step of `foveal train` computes
(Sources/FovealTraining/Trainer.swift), so that a model trained here is the model Foveal would
have trained, only faster and on more machines.

- The input: 8-bit frames normalised with the ImageNet mean and std (Foveal's ImageNormalization).
- The saliency path runs as at inference (BatchNorm on its running statistics, no gradient) when
  its learning rate is 0, and in training mode otherwise (end to end, at its own rate).
- The blur warm-up (paper section 3.3): the resampled image is area-downsampled to a side in
  [task/4, task] and resized back before AlexNet.
- The loss: mean squared error of the gaze in cm over the valid frames, plus, where the model has
  a presence head, its binary cross-entropy over every frame (weighted).
- Gradients are clipped to a global L2 norm as Foveal clips them (scaled by max/norm above max),
  then Adam (or SGD with momentum 0.9) steps with weight decay added to the gradient, as
  torch.optim does and Foveal copies.
- The learning rate: constant, step (/10 at each third) or a half cosine to 0 over the run.
- Eye-box saliency pretraining: KL(target || map), the target two Gaussians (sigma 1.2 cells)
  at the eye-box centres over a uniform floor, 10% unless --pretrain-floor says otherwise
  (Sources/FovealTraining/SaliencyPretraining.swift).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from foveal_model import R

MEAN = torch.tensor(R.IMAGENET_MEAN)[None, :, None, None]
STD = torch.tensor(R.IMAGENET_STD)[None, :, None, None]


def normalise(pixels, dtype=torch.float32):
    """uint8 (B, H, W, 3) -> (B, 3, H, W) with the ImageNet mean and std."""
    x = pixels.permute(0, 3, 1, 2).to(dtype) / 255
    return (x - MEAN.to(x.device, dtype)) / STD.to(x.device, dtype)


def is_saliency(name):
    return name.startswith("saliency")


class TrainingForward(nn.Module):
    """The training pass of a FovealGazeNet: the reference forward with the blur warm-up inserted
    and the saliency path frozen or not. One module, so DistributedDataParallel can wrap it."""

    def __init__(self, net, train_saliency):
        super().__init__()
        self.net, self.train_saliency = net, train_saliency

    def forward(self, image, blur_side=None):
        net = self.net
        if net.use_sampler:
            if self.train_saliency:
                s = self.saliency_map(image)
            else:
                net.saliency.eval()
                with torch.no_grad():
                    s = self.saliency_map(image)
            # The grid (Eqs. 2-3) is a weighted mean of coordinates: in bfloat16 its 8-bit mantissa
            # would misplace samples by several pixels, so it and the resampling stay in float32.
            with torch.autocast(image.device.type, enabled=False):
                j, _ = net.sampler(image.float() if image.dtype != torch.float64 else image,
                                   s.to(image.dtype if image.dtype == torch.float64 else torch.float32),
                                   net.task_size, net.task_size)
        else:
            j = F.adaptive_avg_pool2d(image, (net.task_size, net.task_size))
        if blur_side is not None:
            j = F.interpolate(F.adaptive_avg_pool2d(j, (blur_side, blur_side)), size=(net.task_size, net.task_size),
                              mode="bilinear", align_corners=False)
        out = {"gaze_cm": net.head(j)}
        if net.use_sampler and self.train_saliency:
            out["saliency"] = s  # for the eye anchor
        if net.presence is not None:
            out["presence_logit"] = net.presence(net.penultimate(j)).squeeze(1)
        return out

    def saliency_map(self, image):
        """The softmax-normalised saliency map (B, 1, 31, 31) of the reference forward (Eq. 1)."""
        net = self.net
        low = F.adaptive_avg_pool2d(image, (net.saliency_size, net.saliency_size))
        s = net.saliency_head(F.relu(net.saliency(low)))
        g = net.sampler.grid
        s = F.interpolate(s, size=(g, g), mode="bilinear", align_corners=False)
        return F.softmax(s.reshape(s.shape[0], -1), dim=1).reshape(-1, 1, g, g)


def learning_rate(base, step, total, schedule):
    """Foveal's LearningRateSchedule."""
    if schedule == "constant":
        return base
    if schedule == "step":
        return base * 0.1 ** (step // max(1, total // 3))
    return base * 0.5 * (1 + math.cos(math.pi * min(step, total) / max(1, total)))


def clip_gradients(parameters, maximum):
    """Foveal's clipGradients: scale every gradient by maximum/norm when the global norm exceeds
    it (torch's clip_grad_norm_ adds 1e-6 to the norm). Returns the norm before."""
    grads = [p.grad for p in parameters if p.grad is not None]
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)) if grads else torch.tensor(0.0)
    if maximum > 0 and norm > maximum:
        for g in grads:
            g.mul_((maximum / norm).to(g.dtype))
    return float(norm)


def make_optimizer(net, kind, lr, saliency_lr, weight_decay):
    """Two parameter groups, task (and presence) and saliency, the second left out when frozen. The
    face-in-view head is fitted on frozen features afterwards (`foveal train --face-from`), never here."""
    for n, p in net.named_parameters():
        if n.startswith("face_in_view."):
            p.requires_grad_(False)
    task = [p for n, p in net.named_parameters() if not is_saliency(n) and not n.startswith("face_in_view.")]
    saliency = [p for n, p in net.named_parameters() if is_saliency(n)]
    groups = [{"params": task, "lr": lr, "name": "task"}]
    if saliency_lr > 0 and saliency:
        groups.append({"params": saliency, "lr": saliency_lr, "name": "saliency"})
    else:
        for p in saliency:
            p.requires_grad_(False)
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, weight_decay=weight_decay)
    return torch.optim.Adam(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=weight_decay)


def losses(out, labels, valid, presence_weight, world=1, global_valid=None, global_count=None):
    """(loss to differentiate, mean squared error, presence BCE). Sums over this process's frames
    divided by the global counts, times `world`: DistributedDataParallel averages gradients over
    processes, so the result is the gradient of the global batch's mean, even when the processes'
    shares differ in size."""
    n_valid = global_valid if global_valid is not None else valid.sum()
    n_all = global_count if global_count is not None else valid.numel()
    d = (out["gaze_cm"] - labels)[valid]
    mse = (d * d).sum() / (2 * n_valid.clamp(min=1))
    loss = mse * world
    bce = torch.zeros(())
    if "presence_logit" in out and presence_weight > 0:
        bce = F.binary_cross_entropy_with_logits(out["presence_logit"], valid.float(), reduction="sum") / n_all
        loss = loss + presence_weight * bce * world
    return loss, mse, bce


def train_step(model, optimizer, pixels, labels, valid=None, *, rate, saliency_rate, clip=10.0, blur_side=None,
               presence_weight=1.0, world=1, global_valid=None, global_count=None, autocast=None,
               eye_targets=None, eye_mask=None, eye_anchor=0.0, global_anchored=None):
    """One step of `foveal train`: forward, loss, backward, clip, optimizer step. `model` is a
    TrainingForward, or DistributedDataParallel around one. With `eye_anchor` > 0 and the saliency
    path trained, the eye anchor (`anchor_loss` on `eye_targets` where `eye_mask`) is added with
    that weight. Returns (mse, bce, gradient norm)."""
    valid = torch.ones(len(labels), dtype=torch.bool, device=labels.device) if valid is None else valid
    for group in optimizer.param_groups:
        group["lr"] = saliency_rate if group.get("name") == "saliency" else rate
    optimizer.zero_grad(set_to_none=True)
    image = normalise(pixels, next(model.parameters()).dtype)
    if autocast is not None:
        with torch.autocast(device_type=image.device.type, dtype=autocast):
            out = model(image, blur_side)
        out = {k: v.float() for k, v in out.items()}
    else:
        out = model(image, blur_side)
    loss, mse, bce = losses(out, labels, valid, presence_weight, world, global_valid, global_count)
    if eye_anchor > 0 and eye_targets is not None and "saliency" in out:
        loss = loss + eye_anchor * anchor_loss(out["saliency"], eye_targets, eye_mask, global_anchored) * world
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the loss became {float(loss)}: training diverged (lower --lr, or check the data)")
    loss.backward()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    norm = clip_gradients(params, clip)
    optimizer.step()
    return float(mse.detach()), float(bce.detach()), norm


def eye_target(eyes, width, height, grid=31, sigma=1.2, floor=0.1):
    """Foveal's pretraining target map (grid, grid) for eye-box centres in frame pixels."""
    cells = torch.arange(grid, dtype=torch.float64)
    target = torch.full((grid, grid), floor / grid ** 2, dtype=torch.float64)
    for cx, cy in eyes:
        x, y = cx / width * (grid - 1), cy / height * (grid - 1)
        blob = torch.exp(-((cells[None, :] - x) ** 2 + (cells[:, None] - y) ** 2) / (2 * sigma ** 2))
        target += (1 - floor) / 2 * blob / blob.sum()
    return target.float()


def pretraining_loss(forward, image, targets):
    """Mean KL(target || map) over the batch."""
    return anchor_loss(forward.saliency_map(image), targets)


def anchor_loss(saliency, targets, mask=None, global_anchored=None):
    """Mean KL(target || map) over the frames `mask` marks (None: all), divided by
    `global_anchored` when given (the count over every process): Foveal's
    SaliencyPretraining.divergence, the pretraining's loss and the eye anchor's."""
    s, t = saliency.flatten(1).float(), targets.flatten(1).float()
    if mask is not None:
        s, t = s[mask], t[mask]
    count = global_anchored if global_anchored is not None else torch.tensor(float(len(t)))
    return (t * (t.clamp(min=1e-30).log() - s.clamp(min=1e-30).log())).sum() / count.clamp(min=1)
