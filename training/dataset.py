"""A dataset in GazeCapture's layout (Krafka et al.'s release, or `foveal synth`'s output), read the
way `foveal train` reads it, and the batches of one epoch spread over the processes of a run.

A frame is *valid* (gaze is trained and validated on it) where its face, both eyes and face grid
are detected; the presence head also learns from the others. Labels are the dot in camera space
(cm). A frame's family is "iPhone" or "iPad" from its device name, else the family the device
table (calibration/devices.csv) gives it, as in Foveal.
"""
import csv
import io
import json
import math
import os
from dataclasses import dataclass

import numpy as np
import torch

_DEVICE_TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "calibration", "devices.csv")


class DatasetError(Exception):
    """A recording that cannot be read: the message names the file and what is wrong."""


@dataclass(frozen=True)
class Frame:
    path: str
    x_cm: float
    y_cm: float
    family: str
    recording: str
    valid: bool
    # Eye-box centres in frame pixels (left, right), for the saliency pretraining; None if unknown.
    eyes: tuple = None
    # screen.json's Orientation: a phone turned mid-recording gives frames of another size.
    orientation: int = 1


def device_families(path=_DEVICE_TABLE):
    """Device name -> family, from Foveal's device table (comment lines start with #)."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return {row["name"]: row["family"] for row in rows}


def family_of(device, table):
    if device.startswith("iPad"):
        return "iPad"
    if device.startswith(("iPhone", "iPod")):
        return "iPhone"
    return table.get(device, "other")


def _load_json(folder, name):
    path = os.path.join(folder, name)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path}: {e}") from None


def read_recording(folder, families):
    """Every frame of one recording folder, with its split."""
    info = _load_json(folder, "info.json")
    split, device = info.get("Dataset"), info.get("DeviceName")
    if split is None or device is None:
        raise DatasetError(f"{folder}/info.json: no Dataset or DeviceName")
    names = _load_json(folder, "frames.json")
    dot = _load_json(folder, "dotInfo.json")
    boxes = {n: _load_json(folder, n + ".json") for n in ("appleFace", "appleLeftEye", "appleRightEye", "faceGrid")}
    count = len(names)
    for key in ("XCam", "YCam"):
        if len(dot.get(key, ())) != count:
            raise DatasetError(f"{folder}/dotInfo.json: {key} has {len(dot.get(key, ()))} entries, frames.json {count}")
    for n, b in boxes.items():
        if len(b.get("IsValid", ())) != count:
            raise DatasetError(f"{folder}/{n}.json: IsValid has {len(b.get('IsValid', ()))} entries, frames.json {count}")
    orientations = _load_json(folder, "screen.json").get("Orientation", ())
    if len(orientations) != count:
        raise DatasetError(f"{folder}/screen.json: Orientation has {len(orientations)} entries, frames.json {count}")
    for i, o in enumerate(orientations):
        if isinstance(o, bool) or not isinstance(o, int):
            raise DatasetError(f"{folder}/screen.json: Orientation[{i}] is {o!r}, not a whole number")
    family = family_of(device, families)
    face, left, right = boxes["appleFace"], boxes["appleLeftEye"], boxes["appleRightEye"]
    frames = []
    for i, name in enumerate(names):
        x, y = dot["XCam"][i], dot["YCam"][i]
        if not (isinstance(x, (int, float)) and isinstance(y, (int, float)) and math.isfinite(x) and math.isfinite(y)):
            raise DatasetError(f"{folder}/dotInfo.json: XCam/YCam[{i}] is not a number")
        valid = all(bool(b["IsValid"][i]) for b in boxes.values())
        eyes = None
        if valid:
            # Eye boxes are relative to the face box, as in GazeCapture.
            eyes = tuple((face["X"][i] + e["X"][i] + e["W"][i] / 2, face["Y"][i] + e["Y"][i] + e["H"][i] / 2) for e in (left, right))
        frames.append(Frame(os.path.join(folder, "frames", name), float(x), float(y), family, os.path.basename(folder), valid, eyes,
                            orientations[i]))
    return split, frames


def read_split(root, split, valid_only=True, families=None):
    """The frames of `split` ("train", "val", "test"), recording by recording in name order."""
    families = device_families() if families is None else families
    if not os.path.isdir(root):
        raise DatasetError(f"{root}: not a folder")
    out = []
    for rec in sorted(d for d in os.listdir(root) if d.isdigit() and os.path.isdir(os.path.join(root, d))):
        s, frames = read_recording(os.path.join(root, rec), families)
        if s == split:
            out += [f for f in frames if f.valid or not valid_only]
    return out


def decode_jpeg(path):
    """(H, W, 3) uint8 RGB. PIL's libjpeg-turbo with its default (islow) DCT, as Foveal's libturbojpeg."""
    from PIL import Image
    try:
        with open(path, "rb") as f:
            return np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB"))
    except OSError as e:
        raise DatasetError(f"{path}: {e}") from None


def finish(pixels, contrast, shift, flip):
    """Jitter and mirror a batch (B, H, W, 3) on whatever device it is: Foveal's augmentation."""
    v = (pixels.float() - 128) * contrast[:, None, None, None] + 128 + shift[:, None, None, None]
    v = (torch.sign(v) * torch.floor(v.abs() + 0.5)).clamp(0, 255).to(torch.uint8)
    return torch.where(flip[:, None, None, None], v.flip(2), v)


class FrameBatches(torch.utils.data.Dataset):
    """Item k is global batch k of the epoch, as this process's share: uint8 frames (b, H, W, 3)
    jittered and mirrored (or, with `decode` False, the JPEG bytes and the augmentation to apply
    after decoding them elsewhere, e.g. on the GPU), labels (b, 2) with mirrored frames' x negated,
    the valid flags and families, and the batch's global size. Decoding runs in DataLoader worker
    processes.

    `set_epoch` fixes the plan; every process computes the same plan from (seed, epoch)."""

    def __init__(self, frames, batch_size, rank=0, world=1, seed=1, augment=True, mirror=False,
                 brightness=20.0, contrast=0.2, sizes=None, decode=True, keep_all=False):
        self.frames, self.batch_size, self.rank, self.world = frames, batch_size, rank, world
        self.seed, self.augment, self.mirror, self.decode, self.keep_all = seed, augment, mirror, decode, keep_all
        self.brightness, self.contrast = brightness, contrast
        self.sizes = sizes if sizes is not None else _sizes_by_recording(frames)
        self.set_epoch(0)

    def set_epoch(self, epoch):
        self.epoch = epoch
        # Validation keeps every frame (a process may then get an empty share of the last batch).
        self.plan = plan_batches(self.frames, self.sizes, self.batch_size, 1 if self.keep_all else self.world, self.seed, epoch)

    def __len__(self):
        return len(self.plan)

    def __getitem__(self, k):
        mine = share(self.plan[k], self.rank, self.world)
        # One generator per (seed, epoch, frame): a frame's jitter and mirroring do not depend on
        # which process or worker loads it, so 1 and N processes see identical batches.
        contrast, shift, flip = [], [], []
        for i in mine:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 10_000_019 + i)
            u = torch.rand(3, generator=g, dtype=torch.float64).tolist()
            flip.append(self.mirror and u[0] < 0.5)
            contrast.append(1 - self.contrast + 2 * self.contrast * u[1] if self.augment else 1.0)
            shift.append(-self.brightness + 2 * self.brightness * u[2] if self.augment else 0.0)
        item = {"labels": torch.tensor([(-self.frames[i].x_cm if f else self.frames[i].x_cm, self.frames[i].y_cm)
                                        for i, f in zip(mine, flip)], dtype=torch.float32).reshape(-1, 2),
                "valid": torch.tensor([self.frames[i].valid for i in mine], dtype=torch.bool),
                "families": [self.frames[i].family for i in mine], "global_size": len(self.plan[k]), "indices": mine,
                "contrast": torch.tensor(contrast), "shift": torch.tensor(shift), "flip": torch.tensor(flip, dtype=torch.bool)}
        if not self.decode:
            item["jpeg"] = [torch.frombuffer(bytearray(open(self.frames[i].path, "rb").read()), dtype=torch.uint8) for i in mine]
        elif mine:
            pixels = torch.stack([torch.from_numpy(decode_jpeg(self.frames[i].path).copy()) for i in mine])
            item["pixels"] = finish(pixels, item["contrast"], item["shift"], item["flip"])
        else:
            item["pixels"] = torch.zeros(0, 1, 1, 3, dtype=torch.uint8)
        return item


def _sizes_by_recording(frames):
    """Each frame's size, read from one frame's header per recording and orientation (one camera
    gives one size per orientation), as Foveal's BatchLoader does."""
    from PIL import Image
    sizes, out = {}, []
    for f in frames:
        key = (f.recording, f.orientation)
        if key not in sizes:
            try:
                sizes[key] = Image.open(f.path).size
            except OSError as e:
                raise DatasetError(f"{f.path}: {e}") from None
        out.append(sizes[key])
    return out


def plan_batches(frames, sizes, batch_size, world, seed, epoch):
    """The epoch's global batches: frames grouped by size (frames of one batch stack), shuffled
    within each size and cut into batches of `batch_size`, the batches shuffled, all from
    (seed, epoch). A last batch smaller than `world` is dropped, so that every process has a frame."""
    g = torch.Generator().manual_seed(seed * 7919 + epoch)
    groups = {}
    for i, s in enumerate(sizes):
        groups.setdefault(tuple(s), []).append(i)
    batches = []
    for key in sorted(groups):
        idx = groups[key]
        order = [idx[j] for j in torch.randperm(len(idx), generator=g).tolist()]
        batches += [order[k:k + batch_size] for k in range(0, len(order), batch_size) if len(order[k:k + batch_size]) >= world]
    return [batches[j] for j in torch.randperm(len(batches), generator=g).tolist()]


def share(batch, rank, world):
    """This process's slots of a global batch: rank r takes slots r, r + world, ... (as
    DistributedSampler deals indices), so the processes' shares partition the batch."""
    return batch[rank::world]
