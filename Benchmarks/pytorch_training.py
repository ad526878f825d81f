"""PyTorch CPU side of the training benchmark: the reference GazeNet in the compact configuration,
training steps (forward, MSE loss, backward, Adam step) on one in-memory batch of random frames,
BatchNorm in training mode, dropout 0.5. With --frozen-saliency the saliency path runs under
no_grad in eval mode, as Foveal's frozen variant.

Prints one JSON object: {"images_per_second": ..., "threads": n, "batch": b}.
"""
import argparse, json, os, sys, time

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "shared", "reference"))
import torch_reference as R  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--iterations", type=int, default=5)
p.add_argument("--size", default="640x480")
p.add_argument("--no-sampler", action="store_true")
p.add_argument("--frozen-saliency", action="store_true")
a = p.parse_args()
torch.set_num_threads(a.threads)
w, h = (int(v) for v in a.size.split("x"))
net = R.GazeNet(96, 64, 10, 16, (24, 48, 64, 64, 48), 256, 30.0, use_sampler=not a.no_sampler).train()
frames = torch.randint(0, 256, (a.batch, h, w, 3), dtype=torch.uint8)
targets = (torch.arange(2 * a.batch).reshape(a.batch, 2) % 7 - 3).float()
mean = torch.tensor(R.IMAGENET_MEAN)[None, :, None, None]
std = torch.tensor(R.IMAGENET_STD)[None, :, None, None]
params = [p for n, p in net.named_parameters() if not (a.frozen_saliency and n.startswith("saliency"))]
opt = torch.optim.Adam(params, lr=1e-4)


def forward(x):
    if a.no_sampler or not a.frozen_saliency:
        return net(x)["gaze_cm"]
    with torch.no_grad():
        net.saliency.eval()
        low = F.adaptive_avg_pool2d(x, (64, 64))
        s = net.saliency_head(F.relu(net.saliency(low)))
        s = F.interpolate(s, size=(31, 31), mode="bilinear", align_corners=False)
        s = F.softmax(s.reshape(s.shape[0], -1), dim=1).reshape(-1, 1, 31, 31)
        grid = net.sampler.make_grid(s, 96, 96)
    j = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return net.head(j)


def step():
    x = (frames.permute(0, 3, 1, 2).float() / 255 - mean) / std
    opt.zero_grad()
    loss = F.mse_loss(forward(x), targets)
    loss.backward()
    opt.step()


step()
t = time.perf_counter()
for _ in range(a.iterations):
    step()
seconds = time.perf_counter() - t
print(json.dumps({"images_per_second": a.batch * a.iterations / seconds, "threads": a.threads, "batch": a.batch}))
