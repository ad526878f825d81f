"""Trains AlexNet task networks on a GPU behind a weight file's frozen saliency sampler.

The saliency network and sampler of BASE (a Foveal weight file) run frozen, as at inference, and
resample every frame once per step; several task networks (AlexNet widths and hidden sizes given
by --models) train side by side on the same resampled batches, each with its own Adam optimiser.
Every --validate-every seconds each is scored on the validation split; the best state of each is
written as OUT/NAME.safetensors: BASE's saliency tensors, the trained task tensors and the model
configuration in the header, so `foveal eval --weights OUT/NAME.safetensors` runs it unchanged.

The data is a folder in GazeCapture's layout (`foveal synth`'s output); the frames used are the
valid ones (face, both eyes and face grid detected), as `foveal train` uses. The learning rate
follows a cosine over the wall-clock budget (--until, a Unix time), so the run ends on time.

Usage (a GPU machine with torch and torchvision):
  python3 experiments/train_gpu.py --data gc --base data/foveal-compact.safetensors --out OUT \\
      --reference torch_reference.py --until $(( $(date +%s) + 400 )) \\
      --models 'compact:24.48.64.64.48:256:init,wide:48.96.128.128.96:512'
A model spec is NAME:WIDTHS:HIDDEN[:init] (WIDTHS the five conv widths joined by dots), `init` starting its task tensors from BASE.
"""
import argparse
import importlib.util
import json
import math
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file


def log(*args):
    print(f"[{time.strftime('%H:%M:%S')}]", *args, flush=True)


def load_reference(path):
    spec = importlib.util.spec_from_file_location("torch_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def frames_of(root, split):
    """(jpeg path, x cm, y cm, family, recording) for every valid frame of `split`, sorted."""
    items = []
    for rec in sorted(d for d in os.listdir(root) if d.isdigit()):
        folder = os.path.join(root, rec)
        info = json.load(open(os.path.join(folder, "info.json")))
        if info["Dataset"] != split:
            continue
        load = lambda name: json.load(open(os.path.join(folder, name + ".json")))
        dot, face, left, right, grid = (load(n) for n in ("dotInfo", "appleFace", "appleLeftEye", "appleRightEye", "faceGrid"))
        family = "iPad" if info["DeviceName"].startswith("iPad") else "iPhone"
        for i, name in enumerate(load("frames")):
            if face["IsValid"][i] and left["IsValid"][i] and right["IsValid"][i] and grid["IsValid"][i]:
                items.append((os.path.join(folder, "frames", name), dot["XCam"][i], dot["YCam"][i], family, rec))
    return items


class Frames:
    """The JPEG bytes of a split in memory, grouped by frame size so that batches stack."""

    def __init__(self, items, threads=16):
        self.items = items
        with ThreadPoolExecutor(threads) as pool:
            self.data = list(pool.map(lambda it: torch.frombuffer(bytearray(open(it[0], "rb").read()), dtype=torch.uint8), items))
        self.labels = torch.tensor([[it[1], it[2]] for it in items], dtype=torch.float32)
        # Frames of one recording share a size: one header read per recording.
        from PIL import Image
        size_of_recording = {}
        self.groups = {}
        for i, it in enumerate(items):
            if it[4] not in size_of_recording:
                size_of_recording[it[4]] = Image.open(it[0]).size
            self.groups.setdefault(size_of_recording[it[4]], []).append(i)

    def batches(self, batch, rng):
        order = []
        for indices in self.groups.values():
            idx = indices[:]
            rng.shuffle(idx)
            order += [idx[k:k + batch] for k in range(0, len(idx), batch) if len(idx[k:k + batch]) == batch]
        rng.shuffle(order)
        return order

    def in_order(self, batch):
        for indices in self.groups.values():
            for k in range(0, len(indices), batch):
                yield indices[k:k + batch]


GPU_DECODING = [True]


def decode(frames, indices, device, pool):
    """uint8 (B,3,H,W) on `device`: decoded on the GPU where torchvision can, else on CPU threads."""
    data = [frames.data[i] for i in indices]
    if device.type == "cuda" and GPU_DECODING[0]:
        try:
            from torchvision.io import decode_jpeg
            return torch.stack(decode_jpeg(data, device=device))
        except Exception as e:
            GPU_DECODING[0] = False
            log("GPU JPEG decoding failed, decoding on the CPU from now on:", e)
    from PIL import Image
    import io
    arrays = list(pool.map(lambda d: np.asarray(Image.open(io.BytesIO(d.numpy().tobytes())).convert("RGB")), data))
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous().to(device)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--base", required=True, help="weight file whose saliency network and sampler are used, frozen")
    p.add_argument("--reference", required=True, help="path of torch_reference.py")
    p.add_argument("--out", required=True)
    p.add_argument("--models", required=True)
    p.add_argument("--until", type=float, required=True, help="Unix time at which training stops")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--init-lr", type=float, default=3e-4, help="peak rate for models started from BASE")
    p.add_argument("--validate-every", type=float, default=60)
    p.add_argument("--validation-limit", type=int, default=4000)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    ref = load_reference(a.reference)

    with safe_open(a.base, "pt") as f:
        base_config = json.loads(f.metadata()["config"])
        base = {k: f.get_tensor(k) for k in f.keys()}
    c = base_config
    sampler_net = ref.GazeNet(c["task_size"], c["saliency_size"], c["depth"], c["saliency_width"], tuple(c["alex_widths"]),
                              c["hidden"], c["range_cm"], use_sampler=True)
    sampler_net.load_state_dict(base)
    sampler_net = sampler_net.to(device).eval()
    for q in sampler_net.parameters():
        q.requires_grad_(False)

    models = {}
    for spec in a.models.split(","):
        parts = spec.split(":")
        name, widths, hidden = parts[0], tuple(int(w) for w in parts[1].split(".")), int(parts[2])
        task = ref.AlexNetRegressor(widths, hidden)
        init = len(parts) > 3 and parts[3] == "init"
        if init:
            task.load_state_dict({k[len("task."):]: v for k, v in base.items() if k.startswith("task.")})
        task = task.to(device).train()
        peak = a.init_lr if init else a.lr
        models[name] = dict(task=task, opt=torch.optim.Adam(task.parameters(), lr=peak), peak=peak, widths=widths, hidden=hidden,
                            best=math.inf, steps=0)
        log(f"model {name}: widths {widths}, hidden {hidden}, {sum(q.numel() for q in task.parameters())} parameters,"
            f" {'from BASE' if init else 'from scratch'}, peak rate {peak}")

    t0 = time.time()
    train = Frames(frames_of(a.data, "train"))
    val_items = frames_of(a.data, "val")
    val_items = [val_items[i] for i in sorted(random.Random(0).sample(range(len(val_items)), min(a.validation_limit, len(val_items))))]
    val = Frames(val_items)
    log(f"{len(train.items)} training frames, {len(val.items)} validation frames, sizes {list(train.groups)}, loaded in {time.time() - t0:.0f} s")

    mean = torch.tensor(ref.IMAGENET_MEAN, device=device)[None, :, None, None] * 255
    std = torch.tensor(ref.IMAGENET_STD, device=device)[None, :, None, None] * 255
    pool = ThreadPoolExecutor(16)

    def resample(pixels):
        with torch.no_grad():
            return sampler_net((pixels - mean) / std)["resampled"]

    # The validation inputs are resampled once: the sampler is frozen.
    val_inputs = []
    for idx in val.in_order(256):
        val_inputs.append((resample(decode(val, idx, device, pool).float()), val.labels[idx].to(device), [val.items[i][3] for i in idx]))

    def validate():
        scores = {}
        for name, m in models.items():
            m["task"].eval()
            errors = {"iPhone": [], "iPad": []}
            with torch.no_grad():
                for j, y, fam in val_inputs:
                    out = (torch.sigmoid(m["task"](j)) * 2 - 1) * c["range_cm"]
                    for e, f in zip((out - y).norm(dim=1).tolist(), fam):
                        errors[f].append(e)
            m["task"].train()
            allv = errors["iPhone"] + errors["iPad"]
            scores[name] = (np.mean(allv), np.mean(errors["iPhone"]) if errors["iPhone"] else math.nan,
                            np.mean(errors["iPad"]) if errors["iPad"] else math.nan)
        return scores

    def save(name, m):
        config = dict(base_config, alex_widths=list(m["widths"]), hidden=m["hidden"])
        tensors = {k: v.contiguous() for k, v in base.items() if not k.startswith("task.")}
        tensors.update({"task." + k: v.detach().cpu().contiguous() for k, v in m["task"].state_dict().items()})
        save_file(tensors, os.path.join(a.out, name + ".safetensors"), metadata={"config": json.dumps(config)})

    start = time.time()
    budget = a.until - start
    log(f"training for {budget:.0f} s")
    last_validation, epoch, images = start, 0, 0
    done = False
    while not done:
        epoch += 1
        for idx in train.batches(a.batch, rng):
            now = time.time()
            if now >= a.until:
                done = True
                break
            frac = (now - start) / budget
            pixels = decode(train, idx, device, pool).float()
            # Brightness and contrast jitter, as foveal train: (v - 128) c + 128 + shift.
            b = pixels.shape[0]
            contrast = torch.empty(b, 1, 1, 1, device=device).uniform_(0.8, 1.2)
            shift = torch.empty(b, 1, 1, 1, device=device).uniform_(-20, 20)
            pixels = ((pixels - 128) * contrast + 128 + shift).round().clamp(0, 255)
            j = resample(pixels)
            y = train.labels[idx].to(device)
            for m in models.values():
                lr = m["peak"] * min(1.0, (m["steps"] + 1) / 200) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
                for g in m["opt"].param_groups:
                    g["lr"] = lr
                out = (torch.sigmoid(m["task"](j)) * 2 - 1) * c["range_cm"]
                loss = F.mse_loss(out, y)
                m["opt"].zero_grad(set_to_none=True)
                loss.backward()
                m["opt"].step()
                m["steps"] += 1
                m["loss"] = loss.item() if m["steps"] % 50 == 0 else m.get("loss", math.nan)
            images += b
            if time.time() - last_validation >= a.validate_every or time.time() >= a.until:
                last_validation = time.time()
                scores = validate()
                for name, m in models.items():
                    s = scores[name]
                    mark = ""
                    if s[0] < m["best"]:
                        m["best"] = s[0]
                        save(name, m)
                        mark = " (best, saved)"
                    log(f"epoch {epoch} {images / (time.time() - start):.0f} img/s {name}: train mse {m['loss']:.3f},"
                        f" val {s[0]:.3f} cm (iPhone {s[1]:.3f}, iPad {s[2]:.3f}){mark}")
    scores = validate()
    for name, m in models.items():
        if scores[name][0] < m["best"]:
            m["best"] = scores[name][0]
            save(name, m)
        log(f"final {name}: val {scores[name][0]:.3f} cm, best {m['best']:.3f} cm, {m['steps']} steps")
    log(f"{images} images in {time.time() - start:.0f} s, {epoch} epochs begun")


if __name__ == "__main__":
    sys.exit(main())
