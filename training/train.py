"""Trains Foveal's gaze model with PyTorch, on one process or many (torchrun, DistributedDataParallel),
on a dataset in GazeCapture's layout, and writes Foveal weight files that `foveal eval`, `track`
and `serve` run unchanged.

The recipe is `foveal train`'s (recipe.py): eye-box saliency pretraining, the blur warm-up, a
saliency learning rate of its own (0: frozen), mirroring, brightness/contrast jitter, the presence
head, per-family validation after every epoch, `best` and `last` checkpoints and --resume.

  # one process (CPU, or one GPU)
  python training/train.py --data gc --out run --model compact --epochs 8 --batch 64
  # 8 GPUs on one machine; --batch is the global batch, split over the processes
  torchrun --nproc_per_node 8 training/train.py --data gc --out run --model paper --batch 256 --precision bf16
  # several machines: see deploy/slurm/train.sbatch and deploy/k8s/train-job.yaml

Writes RUN/best.safetensors (best validation), RUN/last.safetensors, RUN/last.pt (optimizer and
position, for --resume) and RUN/log.csv.
"""
import argparse
import csv
import json
import math
import os
import random
import sys
import time
import warnings

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataset as D  # noqa: E402
import recipe  # noqa: E402
from distributed import World, share_batch_norm  # noqa: E402
from foveal_model import FovealGazeNet, config_json  # noqa: E402

# DistributedDataParallel warns that a 1x1 convolution's gradient has other strides than its
# bucket (a copy, not an error).
warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")

# Foveal's presets (Sources/FovealModel/ModelConfig.swift).
PRESETS = {
    "paper": dict(task_size=227, saliency_size=227, depth=10, saliency_width=64, alex_widths=[64, 192, 384, 256, 256],
                  hidden=4096, range_cm=30.0, sampler=True),
    "compact": dict(task_size=96, saliency_size=64, depth=10, saliency_width=16, alex_widths=[24, 48, 64, 64, 48],
                    hidden=256, range_cm=30.0, sampler=True),
}


def log(world, *args):
    if world.first:
        print(f"[{time.strftime('%H:%M:%S')}]", *args, flush=True)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="dataset folder in GazeCapture's layout: trains on train, validates on val")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--model", default="compact", help="compact, paper, or a JSON configuration file")
    p.add_argument("--init", help="start from this Foveal weight file (its configuration wins over --model)")
    p.add_argument("--no-sampler", action="store_true", help="the plain-AlexNet baseline")
    p.add_argument("--presence", action="store_true", help="add the presence head and train it jointly (BCE on every frame)")
    p.add_argument("--presence-weight", type=float, default=1.0)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--max-steps", type=int, help="stop after this many steps (the schedule spans them)")
    p.add_argument("--batch", type=int, default=64, help="global batch: frames per step over all processes")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--saliency-lr", type=float, help="learning rate of the saliency path (0: frozen; default --lr)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--schedule", choices=("constant", "step", "cosine"), default="cosine")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--clip", type=float, default=10.0)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--blur-epochs", type=int, default=0, help="epochs of the paper's blur warm-up (section 3.3)")
    p.add_argument("--pretrain-steps", type=int, default=0, help="steps of eye-box saliency pretraining")
    p.add_argument("--pretrain-lr", type=float, default=1e-3)
    p.add_argument("--eye-anchor", type=float, default=0.0,
                   help="while the saliency path trains, add the pretraining's eye-box loss with this weight (0 = off)")
    p.add_argument("--pretrain-floor", type=float, default=0.1,
                   help="share of the pretraining target spread evenly over the map; lower zooms harder into the eyes")
    p.add_argument("--mirror", action="store_true")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--limit", type=int, help="at most N training frames")
    p.add_argument("--validation-limit", type=int, help="at most N validation frames")
    p.add_argument("--workers", type=int, default=4, help="JPEG-decoding worker processes per training process")
    p.add_argument("--decode", choices=("workers", "gpu"), default="workers",
                   help="where JPEGs are decoded: worker processes, or on the GPU (torchvision.io.decode_jpeg; "
                        "the workers then only read the files)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="bf16: autocast on the GPU")
    p.add_argument("--float64", action="store_true",
                   help="compute in float64 (CPU; for parity checks, where float32 rounding would blur the comparison)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, help="intra-op threads per process (CPU)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.pt")
    p.add_argument("--log-every", type=int, default=50)
    a = p.parse_args(argv)
    # Whole-number options and their least values; None where the option was not given.
    least = {"batch": 1, "epochs": 1, "workers": 0, "log_every": 1, "max_steps": 1, "limit": 1, "validation_limit": 1,
             "threads": 1, "pretrain_steps": 0, "blur_epochs": 0}
    for name, minimum in least.items():
        v = getattr(a, name)
        if v is not None and v < minimum:
            p.error(f"--{name.replace('_', '-')} must be at least {minimum}")
    for name in ("lr", "presence_weight", "weight_decay", "clip", "pretrain_lr", "eye_anchor"):
        v = getattr(a, name)
        if not (math.isfinite(v) and v >= 0):
            p.error(f"--{name.replace('_', '-')} must be a finite number >= 0")
    if not (math.isfinite(a.pretrain_floor) and 0 < a.pretrain_floor < 1):
        p.error("--pretrain-floor must be between 0 and 1")
    if a.saliency_lr is not None and not (math.isfinite(a.saliency_lr) and a.saliency_lr >= 0):
        p.error("--saliency-lr must be a finite number >= 0")
    if not 0 <= a.dropout < 1:
        p.error("--dropout must be in [0, 1)")
    return a


def read_weights(path):
    """(tensors, configuration) of a Foveal weight file."""
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
        if "config" not in meta:
            raise SystemExit(f"{path}: no configuration in the header (not a Foveal weight file)")
        return {k: f.get_tensor(k) for k in f.keys()}, json.loads(meta["config"])


def load_into(net, tensors, path):
    missing, unexpected = net.load_state_dict(tensors, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked") and not m.startswith(("presence.", "face_in_view."))]
    if missing or unexpected:
        raise SystemExit(f"{path}: does not fit the model (missing {missing[:4]}, unexpected {unexpected[:4]})")


def foveal_tensors(net):
    """The state_dict as Foveal reads it: float tensors only (num_batches_tracked is PyTorch's own)."""
    return {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items() if v.is_floating_point()}


def save_atomically(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def build_model(a):
    init, config = None, None
    if a.init:
        init, config = read_weights(a.init)
    elif a.model in PRESETS:
        config = dict(PRESETS[a.model])
    else:
        with open(a.model) as f:
            config = json.load(f)
    if a.no_sampler:
        config["sampler"] = False
    if a.presence:
        config["presence"] = True
    net = FovealGazeNet.from_config(config)
    if init is not None:
        load_into(net, init, a.init)
    for m in net.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = a.dropout
    return net, config


def validate(world, net, data, workers):
    """Mean error in cm per family over `data` (a FrameBatches of the valid validation frames,
    every frame kept), shared across processes."""
    families = sorted({f.family for f in data.frames})
    sums = torch.zeros(len(families), 2, dtype=torch.float64)
    net.eval()
    with torch.no_grad():
        for item in torch.utils.data.DataLoader(data, batch_size=None, num_workers=workers):
            if len(item["labels"]) == 0:
                continue
            image = recipe.normalise(item["pixels"].to(world.device), next(net.parameters()).dtype)
            out = net(image)["gaze_cm"].float().cpu()
            err = (out - item["labels"]).norm(dim=1).double()
            for e, fam in zip(err, item["families"]):
                sums[families.index(fam), 0] += e
                sums[families.index(fam), 1] += 1
    net.train()
    sums = world.sum(sums.to(world.device)).cpu()
    per = {f: float(s / n) for f, (s, n) in zip(families, sums.tolist()) if n > 0}
    return float(sums[:, 0].sum() / sums[:, 1].sum().clamp(min=1)), per


def pretrain_saliency(world, a, forward, train):
    """Eye-box pretraining of the saliency path alone; gradients averaged over processes by hand
    (a short phase before DistributedDataParallel wraps the model)."""
    net = forward.net
    params = [p for n, p in net.named_parameters() if recipe.is_saliency(n)]
    opt = torch.optim.Adam(params, lr=a.pretrain_lr)
    data = D.FrameBatches(train, a.batch, world.rank, world.size, seed=a.seed + 1000, augment=not a.no_augment)
    step, epoch, first, kl = 0, 0, None, None
    while step < a.pretrain_steps:
        data.set_epoch(epoch)
        for item in torch.utils.data.DataLoader(data, batch_size=None, num_workers=a.workers):
            if step >= a.pretrain_steps:
                break
            pixels = item["pixels"]
            h, w = pixels.shape[1:3]
            targets = torch.stack([recipe.eye_target(train[i].eyes, w, h, floor=a.pretrain_floor) for i in item["indices"]]).to(world.device)
            opt.zero_grad(set_to_none=True)
            image = recipe.normalise(pixels.to(world.device), next(net.parameters()).dtype)
            kl = recipe.pretraining_loss(forward, image, targets.to(image.dtype))
            (kl * len(pixels) * world.size / item["global_size"]).backward()
            for p in params:
                if world.size > 1 and p.grad is not None:
                    torch.distributed.all_reduce(p.grad)
                    p.grad /= world.size
            recipe.clip_gradients(params, a.clip)
            opt.step()
            first = float(kl.detach()) if first is None else first
            step += 1
        epoch += 1
    log(world, f"saliency pretraining: {step} steps, KL {first:.3f} -> {float(kl.detach()):.3f} (first process's share)")


def main(argv=None):
    a = parse(argv)
    world = World(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    try:
        train = D.read_split(a.data, "train", valid_only=not a.presence)
        val = D.read_split(a.data, "val")
    except D.DatasetError as e:
        raise SystemExit(f"error: {e}")
    train, val = train[:a.limit], val[:a.validation_limit]
    if not train:
        raise SystemExit(f"error: {a.data}: no usable frames in the train split")
    net, config = build_model(a)
    saliency_lr = a.lr if a.saliency_lr is None else a.saliency_lr
    train_saliency = config.get("sampler", True) and saliency_lr > 0
    if world.size > 1 and train_saliency:
        net = share_batch_norm(net, world.device)
    net = net.to(world.device, torch.float64 if a.float64 else torch.float32).train()
    forward = recipe.TrainingForward(net, train_saliency)

    gpu_decoding = a.decode == "gpu" and world.device.type == "cuda"
    if a.decode == "gpu" and not gpu_decoding:
        log(world, "--decode gpu: not training on a GPU, decoding in worker processes")
    data = D.FrameBatches(train, a.batch, world.rank, world.size, seed=a.seed, augment=not a.no_augment, mirror=a.mirror,
                          decode=not gpu_decoding)
    # Built once: its plan keeps every frame, and the frame sizes are read once.
    val_data = D.FrameBatches(val, a.batch, world.rank, world.size, augment=False, keep_all=True) if val else None
    steps_per_epoch = len(data)
    total = steps_per_epoch * a.epochs if a.max_steps is None else min(a.max_steps, steps_per_epoch * a.epochs)
    log(world, f"{world.size} process(es) on {world.device.type}; {len(train)} training frames, {len(val)} validation frames, "
               f"{steps_per_epoch} steps per epoch of {a.batch} frames, {total} steps")

    state_path = os.path.join(a.out, "last.pt")
    start_epoch, step, best = 0, 0, math.inf
    optimizer = recipe.make_optimizer(net, a.optimizer, a.lr, saliency_lr, a.weight_decay)
    history = []
    if a.resume:
        if not os.path.exists(state_path):
            raise SystemExit(f"error: {state_path}: nothing to resume")
        try:
            state = torch.load(state_path, map_location=world.device, weights_only=True)
            net.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            start_epoch, step, best, history = int(state["epoch"]), int(state["step"]), float(state["best"]), state.get("history", [])
        except Exception as e:  # a truncated file, another model's state, missing keys
            raise SystemExit(f"error: {state_path}: cannot resume from it: {str(e).splitlines()[0]}")
        if not (0 <= start_epoch <= a.epochs and step >= 0):
            raise SystemExit(f"error: {state_path}: epoch {start_epoch} and step {step} do not fit --epochs {a.epochs}")
        log(world, f"resumed at epoch {start_epoch}, step {step}")
    elif a.pretrain_steps > 0 and config.get("sampler", True):
        pretrain_saliency(world, a, forward, [f for f in train if f.valid])

    model = forward
    if world.size > 1:
        model = DistributedDataParallel(forward, device_ids=[world.device.index] if world.device.type == "cuda" else None)
    autocast = torch.bfloat16 if a.precision == "bf16" and world.device.type == "cuda" else None

    def save(epoch, validation, force_best=False):
        nonlocal best
        if not world.first:
            return
        meta = {"config": config_json(config), "epoch": str(epoch), "step": str(step), "trained_with": "training/train.py"}
        tensors = foveal_tensors(net)
        save_atomically(os.path.join(a.out, "last.safetensors"), lambda p: save_file(tensors, p, metadata=meta))
        improved = validation < best
        if improved:
            best = validation
        if improved or force_best:
            save_atomically(os.path.join(a.out, "best.safetensors"),
                            lambda p: save_file(tensors, p, metadata=dict(meta, validation_cm=str(validation))))
        save_atomically(state_path, lambda p: torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict(),
                                                          "epoch": epoch, "step": step, "best": best, "history": history}, p))
        with open(os.path.join(a.out, "log.csv"), "w") as f:
            w = csv.writer(f)
            w.writerow(["epoch", "steps", "train_mse", "validation_mean_cm", "images_per_second", "seconds", "learning_rate"])
            w.writerows([[h["epoch"], h["steps"], f"{h['train_mse']:.5f}", f"{h['validation_cm']:.4f}",
                          f"{h['images_per_second']:.1f}", f"{h['seconds']:.1f}", f"{h['lr']:.6g}"] for h in history])

    if not a.resume and val_data:
        # The starting point, so the log shows validation falling from it.
        validation, per = validate(world, net, val_data, a.workers)
        history.append({"epoch": 0, "steps": 0, "train_mse": math.nan, "validation_cm": validation,
                        "images_per_second": 0.0, "seconds": 0.0, "lr": 0.0})
        log(world, f"before training: validation {validation:.3f} cm (" + ", ".join(f"{k} {v:.2f}" for k, v in sorted(per.items())) + ")")
    epoch = start_epoch
    while epoch < a.epochs and step < total:
        data.set_epoch(epoch)
        started, images, mse_sum, rate = time.time(), 0, 0.0, 0.0
        for item in torch.utils.data.DataLoader(data, batch_size=None, num_workers=a.workers, persistent_workers=False):
            if step >= total:
                break
            rate = recipe.learning_rate(a.lr, step, total, a.schedule)
            sal_rate = recipe.learning_rate(saliency_lr, step, total, a.schedule)
            # The blur side is drawn from (seed, step): the same on every process, and after --resume.
            u = random.Random(a.seed * 1_000_003 + step).random()
            blur = int(config["task_size"] / 4 + u * (config["task_size"] * 3 / 4 + 1)) if epoch < a.blur_epochs else None
            pixels = frames_on_device(item, world.device)
            labels = item["labels"].to(world.device)
            valid = item["valid"].to(world.device)
            targets, mask = eye_anchor_targets(item, train, pixels, a) if a.eye_anchor > 0 and saliency_lr > 0 else (None, None)
            counts = world.sum(torch.tensor([float(valid.sum()), float(len(valid)), float(mask.sum()) if mask is not None else 0.0],
                                            device=world.device))
            mse, bce, norm = recipe.train_step(model, optimizer, pixels, labels, valid, rate=rate, saliency_rate=sal_rate,
                                               clip=a.clip, blur_side=blur, presence_weight=a.presence_weight,
                                               world=world.size, global_valid=counts[0], global_count=counts[1],
                                               autocast=autocast, eye_targets=targets, eye_mask=mask,
                                               eye_anchor=a.eye_anchor, global_anchored=counts[2])
            # Each process's terms are its share of the global means: their sum is the batch's.
            mse, bce = world.sum(torch.tensor([mse, bce], dtype=torch.float64, device=world.device)).tolist()
            step += 1
            images += item["global_size"]
            mse_sum += mse * item["global_size"]
            if step % a.log_every == 0:
                elapsed = time.time() - started
                log(world, f"epoch {epoch + 1} step {step}/{total}: mse {mse:.3f}" + (f", presence bce {bce:.3f}" if a.presence else "")
                    + f", |g| {norm:.2f}, lr {rate:.3g}, {images / elapsed:.0f} images/s")
        seconds = time.time() - started
        epoch += 1
        validation, per = validate(world, net, val_data, a.workers) if val_data else (math.nan, {})
        history.append({"epoch": epoch, "steps": step, "train_mse": world_mean(mse_sum, images), "validation_cm": validation,
                        "images_per_second": images / max(seconds, 1e-9), "seconds": seconds, "lr": rate})
        log(world, f"epoch {epoch}: train mse {history[-1]['train_mse']:.3f}, validation {validation:.3f} cm ("
                   + ", ".join(f"{k} {v:.2f}" for k, v in sorted(per.items())) + f"), {images / max(seconds, 1e-9):.0f} images/s")
        save(epoch, validation)
    # No validation frames (or none finite): the last weights are the best there are.
    if world.first and not os.path.exists(os.path.join(a.out, "best.safetensors")):
        save(epoch, math.nan, force_best=True)
    world.barrier()
    world.close()


def eye_anchor_targets(item, frames, pixels, a):
    """The eye anchor's target maps for the batch's frames as they were augmented (mirrored where
    flipped), and which frames have one (both eyes annotated)."""
    h, w = pixels.shape[1:3]
    maps, mask = [], []
    for i, flip in zip(item["indices"], item["flip"].tolist()):
        eyes = frames[i].eyes
        target = recipe.eye_target(eyes, w, h, floor=a.pretrain_floor) if eyes else torch.zeros(31, 31)  # eye_target's grid
        maps.append(target.flip(-1) if flip else target)
        mask.append(eyes is not None)
    return torch.stack(maps).to(pixels.device), torch.tensor(mask, device=pixels.device)


def frames_on_device(item, device):
    """The batch's augmented frames on the training device: decoded there from the JPEG bytes
    (torchvision.io.decode_jpeg, nvJPEG on a GPU) when the workers only read them."""
    if "pixels" in item:
        return item["pixels"].to(device, non_blocking=True)
    from torchvision.io import decode_jpeg
    pixels = torch.stack(decode_jpeg(item["jpeg"], device=device)).permute(0, 2, 3, 1)
    return D.finish(pixels, item["contrast"].to(device), item["shift"].to(device), item["flip"].to(device))


def world_mean(total, count):
    return total / count if count else math.nan


if __name__ == "__main__":
    main()
