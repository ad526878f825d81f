"""Regenerates the golden fixtures under Tests/Fixtures from the PyTorch reference.

    .venv-ref/bin/python Tests/Fixtures/make_fixtures.py

Needs torch==2.13.0+cpu, numpy, safetensors and pillow (see `make venv`), and the reference at
../shared/reference/torch_reference.py. The outputs are committed, so tests and CI need no Python.
  model/<name>.*   small GazeNets (reference outputs of torch_reference.py)
  ops.safetensors  single PyTorch ops on random inputs: <case>.<tensor>
"""
import os
import subprocess
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
reference = os.path.join(here, "..", "..", "..", "shared", "reference", "torch_reference.py")
small = ["--saliency-width", "8", "--alex-widths", "8,16,24,16,16", "--hidden", "32"]
models = {
    # name: extra arguments
    "depth6": ["--depth", "6", "--height", "72", "--width", "96", "--task-size", "96", "--saliency-size", "64"],
    "depth10_batch2": ["--depth", "10", "--height", "100", "--width", "76", "--task-size", "80",
                       "--saliency-size", "72", "--batch", "2"],
    "depth14": ["--depth", "14", "--height", "64", "--width", "80", "--task-size", "64", "--saliency-size", "96"],
    "no_sampler": ["--depth", "10", "--no-sampler", "--height", "90", "--width", "120", "--task-size", "70"],
}



def float64_outputs(prefix):
    """The same model and input in float64: the exact values float32 implementations approximate.

    Resampling a random-noise frame is ill-conditioned (neighbouring pixels differ by up to ~4 in
    normalised units), so the reference's own float32 rounding of the grid (~1e-6) moves its
    resampled values by up to ~1e-3; against float64, an implementation's own error shows."""
    from reference64 import float64_model, normalise64
    from safetensors.torch import load_file
    net, _ = float64_model(prefix)
    pixels = load_file(prefix + ".io.safetensors")["pixels"].double()
    with torch.no_grad():
        out = net(normalise64(pixels))
    save_file({k: v.float().contiguous() for k, v in out.items()}, prefix + ".f64.safetensors")
    # The gradients of --grads (MSE to (1.5, -2.5), BatchNorm training mode, dropout off) in float64:
    # d(loss)/d(grid) jumps where a sample crosses a pixel edge, so float32 rounding of the grid
    # alone changes the saliency path's gradients by up to ~5% on a random-noise frame.
    net.train()
    for m in net.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    image = normalise64(pixels).requires_grad_(True)
    target = torch.tensor([[1.5, -2.5]], dtype=torch.float64).expand(pixels.shape[0], 2)
    loss = F.mse_loss(net(image)["gaze_cm"], target)
    loss.backward()
    grads = {"input": image.grad, "loss": loss.detach().reshape(1)}
    grads.update({k: v.grad for k, v in net.named_parameters()})
    save_file({k: v.float().contiguous() for k, v in grads.items()}, prefix + ".grads64.safetensors")


os.makedirs(os.path.join(here, "model"), exist_ok=True)
for seed, (name, args) in enumerate(models.items()):
    prefix = os.path.join(here, "model", name)
    subprocess.run([sys.executable, reference, "--out", prefix, "--seed", str(seed + 11), "--grads"] + small + args,
                   check=True)
    float64_outputs(prefix)

torch.manual_seed(5)
ops = {}


def case(name, **tensors):
    for k, v in tensors.items():
        ops[f"{name}.{k}"] = v.detach().float().contiguous()


for i, (c, m, k, s, p, h, w) in enumerate([(3, 5, 3, 1, 1, 9, 11), (4, 6, 5, 2, 2, 13, 10),
                                           (3, 4, 11, 4, 2, 31, 29), (2, 3, 1, 2, 0, 8, 7), (6, 2, 7, 2, 3, 15, 16)]):
    x, wt, b = torch.randn(2, c, h, w), torch.randn(m, c, k, k), torch.randn(m)
    case(f"conv{i}", input=x, weight=wt, bias=b, params=torch.tensor([s, p]),
         output=F.conv2d(x, wt, b, stride=s, padding=p))
for i, (k, s, p, h, w) in enumerate([(3, 2, 0, 13, 13), (3, 2, 1, 12, 9), (2, 2, 0, 7, 8)]):
    x = torch.randn(2, 3, h, w)
    case(f"maxpool{i}", input=x, params=torch.tensor([k, s, p]), output=F.max_pool2d(x, k, s, p))
for i, (h, w, oh, ow) in enumerate([(480, 640, 227, 227), (13, 9, 6, 6), (2, 3, 6, 6), (17, 23, 5, 7)]):
    x = torch.randn(1, 1, h, w)
    case(f"adaptive{i}", input=x, params=torch.tensor([oh, ow]), output=F.adaptive_avg_pool2d(x, (oh, ow)))
for i, (h, w, oh, ow) in enumerate([(4, 4, 31, 31), (31, 31, 227, 227), (9, 13, 5, 6), (7, 5, 7, 5), (3, 8, 11, 3)]):
    x = torch.randn(1, 2, h, w)
    case(f"resize{i}", input=x, params=torch.tensor([oh, ow]),
         output=F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False))
for i, (h, w, oh, ow) in enumerate([(12, 16, 9, 7), (30, 20, 31, 31)]):
    x, g = torch.randn(2, 3, h, w), torch.rand(2, oh, ow, 2) * 2.4 - 1.2  # some points outside the image
    case(f"gridsample{i}", input=x, grid=g,
         output=F.grid_sample(x, g, mode="bilinear", padding_mode="zeros", align_corners=False))
x = torch.randn(3, 1, 6, 5) * 4
case("softmax0", input=x, output=F.softmax(x.reshape(3, -1), dim=1).reshape(3, 1, 6, 5))
x = torch.randn(2, 2, 4, 5)
case("replicate0", input=x, params=torch.tensor([3]), output=F.pad(x, (3, 3, 3, 3), mode="replicate"))
# The sampler's grid (Eqs. 2-3, clamp, resize) and its gradient w.r.t. the saliency map, in float64.
sys.path.insert(0, os.path.dirname(reference))
import torch_reference as R  # noqa: E402

sampler = R.SaliencySampler().double()
sampler.kernel = R.gaussian_kernel(61, 13.0).double()[None, None]
for i, (sharpness, oh, ow) in enumerate([(1.0, 20, 17), (4.0, 31, 31), (0.2, 9, 12)]):
    s = F.softmax(torch.randn(2, 961, dtype=torch.float64) * sharpness, dim=1).reshape(2, 1, 31, 31).requires_grad_(True)
    g = sampler.make_grid(s, oh, ow)
    r = torch.randn_like(g)
    (g * r).sum().backward()
    case(f"gridgrad{i}", saliency=s, dgrid=r, grid=g, dsaliency=s.grad, params=torch.tensor([oh, ow]))
save_file(ops, os.path.join(here, "ops.safetensors"))
print(f"wrote {len(models)} models and {len({k.split('.')[0] for k in ops})} op cases")

# Images in the formats cameras and datasets hand over: grey and RGBA PNGs, a JPEG, with the
# pixels Pillow decodes them to.
from PIL import Image  # noqa: E402
import numpy as np  # noqa: E402

os.makedirs(os.path.join(here, "images"), exist_ok=True)
rng = np.random.default_rng(3)
grey = rng.integers(0, 256, (6, 8), dtype=np.uint8)
Image.fromarray(grey, "L").save(os.path.join(here, "images", "grey.png"))
rgba = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
rgba[..., 3] = 255
Image.fromarray(rgba, "RGBA").save(os.path.join(here, "images", "rgba.png"))
yy, xx = np.mgrid[0:24, 0:32]
smooth = np.stack([xx * 8, yy * 10, (xx + yy) * 4], -1).astype(np.uint8)
Image.fromarray(smooth, "RGB").save(os.path.join(here, "images", "photo.jpg"), quality=95)
decoded = np.asarray(Image.open(os.path.join(here, "images", "photo.jpg")).convert("RGB"))
save_file({"grey": torch.from_numpy(grey.astype(np.float32)),
           "rgba": torch.from_numpy(rgba[..., :3].astype(np.float32).copy()),
           "photo": torch.from_numpy(decoded.astype(np.float32).copy())},
          os.path.join(here, "images", "pixels.safetensors"))

# The presence and face-in-view heads (training/foveal_model.py): a small model with them, its
# weights, one 8-bit frame and the outputs, gaze, presence and face in view.
sys.path.insert(0, os.path.join(here, "..", "..", "training"))
import foveal_model  # noqa: E402

torch.manual_seed(21)
presence_config = {"task_size": 80, "saliency_size": 64, "depth": 10, "saliency_width": 8,
                   "alex_widths": [8, 16, 24, 16, 16], "hidden": 32, "range_cm": 45.0, "sampler": True, "presence": True,
                   "face_in_view": True}
net = foveal_model.FovealGazeNet.from_config(presence_config).eval()
for m in net.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.running_mean.uniform_(-0.1, 0.1); m.running_var.uniform_(0.5, 1.5)
with torch.no_grad():
    net.presence.weight.mul_(8)  # spread the probabilities away from one half
    net.face_in_view.weight.fill_(-4.0); net.face_in_view.bias.fill_(27.0)  # one half at an entropy of 6.75
pixels = torch.randint(0, 256, (1, 3, 72, 128)).float() / 255
mean = torch.tensor(R.IMAGENET_MEAN)[None, :, None, None]; std = torch.tensor(R.IMAGENET_STD)[None, :, None, None]
with torch.no_grad():
    out = net((pixels - mean) / std)
prefix = os.path.join(here, "model", "presence")
save_file({k: v.contiguous() for k, v in net.state_dict().items()}, prefix + ".weights.safetensors",
          metadata={"config": foveal_model.config_json(presence_config)})
Image.fromarray((pixels[0].permute(1, 2, 0) * 255).round().byte().numpy()).save(prefix + ".png")
save_file({"pixels": pixels.contiguous(), "gaze_cm": out["gaze_cm"].contiguous(), "presence": out["presence"].contiguous(),
           "face_in_view": out["face_in_view"].contiguous()},
          prefix + ".io.safetensors")
print("presence model: gaze", out["gaze_cm"].tolist(), "presence", out["presence"].tolist(),
      "face in view", out["face_in_view"].tolist())


# Mirror averaging (training/foveal_model.py, "mirror_average"): the presence model above with it
# on, one 8-bit frame and the outputs: gaze averaged with the mirror image's, presence and face in view the frame's own.
torch.manual_seed(22)
mirror_config = dict(presence_config, mirror_average=True)
net = foveal_model.FovealGazeNet.from_config(mirror_config).eval()
for m in net.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.running_mean.uniform_(-0.1, 0.1); m.running_var.uniform_(0.5, 1.5)
with torch.no_grad():
    net.presence.weight.mul_(8)
    net.face_in_view.weight.fill_(-4.0); net.face_in_view.bias.fill_(27.0)
pixels = torch.randint(0, 256, (1, 3, 72, 128)).float() / 255
with torch.no_grad():
    out = net((pixels - mean) / std)
    net.mirror_average = False
    plain = net((pixels - mean) / std)
prefix = os.path.join(here, "model", "mirror")
save_file({k: v.contiguous() for k, v in net.state_dict().items()}, prefix + ".weights.safetensors",
          metadata={"config": foveal_model.config_json(mirror_config)})
Image.fromarray((pixels[0].permute(1, 2, 0) * 255).round().byte().numpy()).save(prefix + ".png")
save_file({"gaze_cm": out["gaze_cm"].contiguous(), "presence": out["presence"].contiguous(),
           "face_in_view": out["face_in_view"].contiguous(), "plain_gaze_cm": plain["gaze_cm"].contiguous()},
          prefix + ".io.safetensors")
print("mirror model: gaze", out["gaze_cm"].tolist(), "without the mirror", plain["gaze_cm"].tolist(),
      "presence", out["presence"].tolist())
