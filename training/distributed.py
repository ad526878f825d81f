"""The process group of a `torchrun` launch, and BatchNorm statistics shared across it.

torchrun sets RANK, LOCAL_RANK, WORLD_SIZE and the rendezvous; a plain `python train.py` is a
world of one. GPUs use NCCL, CPUs gloo.

BatchNorm in training mode normalises with the batch's statistics. With the batch split over
processes, each would see only its share's statistics and the step would differ from one process
training on the whole batch. torch.nn.SyncBatchNorm shares them, on GPUs only; `SharedBatchNorm2d`
does the same on any backend with differentiable all-reduces, so a 2-process CPU run takes the
very step a 1-process run takes.
"""
import os
import warnings

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn as nn

# torch.distributed.nn.functional.all_reduce is the documented differentiable all-reduce; its
# suggested successor is a private module.
warnings.filterwarnings("ignore", message=".*torch.distributed.nn.functional.all_reduce is deprecated.*")


class World:
    """This process's place in the run: rank, size, device, and whether it is the first (the one that writes)."""

    def __init__(self, device_kind="auto"):
        self.size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available() if device_kind == "auto" else device_kind == "cuda"
        self.device = torch.device("cuda", self.local_rank) if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(self.device)
        if self.size > 1:
            dist.init_process_group("nccl" if cuda else "gloo")

    @property
    def first(self):
        return self.rank == 0

    def sum(self, tensor):
        """The elementwise sum over processes (no gradient)."""
        if self.size > 1:
            tensor = tensor.clone()
            dist.all_reduce(tensor)
        return tensor

    def barrier(self):
        if self.size > 1:
            dist.barrier()

    def close(self):
        if self.size > 1:
            dist.destroy_process_group()


class SharedBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training-mode statistics are those of the whole batch across processes
    (mean, then the biased variance about it, two all-reduces), with the same running statistics
    update and state_dict names as nn.BatchNorm2d."""

    def forward(self, x):
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        c = x.shape[1]
        count = torch.tensor([x.numel() / c], dtype=x.dtype, device=x.device)
        total = dist_fn.all_reduce(torch.cat([x.sum((0, 2, 3)), count]))
        n = total[c].detach()
        mean = total[:c] / n
        centred = x - mean[None, :, None, None]
        var = dist_fn.all_reduce((centred * centred).sum((0, 2, 3))) / n
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / max(float(n) - 1, 1.0))
            self.num_batches_tracked.add_(1)
        y = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        return y * self.weight[None, :, None, None] + self.bias[None, :, None, None]


def share_batch_norm(module, device):
    """Every BatchNorm2d of `module` with shared statistics: torch's SyncBatchNorm on GPUs, the
    gloo-capable SharedBatchNorm2d on CPUs. Names and values are kept."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            shared = SharedBatchNorm2d(child.num_features, child.eps, child.momentum)
            shared.load_state_dict(child.state_dict())
            setattr(module, name, shared)
        else:
            share_batch_norm(child, device)
    return module
