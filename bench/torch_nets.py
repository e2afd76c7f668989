"""The same two networks in PyTorch, for side-by-side throughput (benchmark use only)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lenet5.models.lenet1998 import C3_TABLE, SQUASH_A, SQUASH_S, load_rbf_bitmaps


class TorchSeed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.norm1 = nn.BatchNorm2d(20)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc = nn.Linear(800, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(F.max_pool2d(F.relu(self.conv1(x)), 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def _squash(a: torch.Tensor) -> torch.Tensor:
    return SQUASH_A * torch.tanh(SQUASH_S * a)


class _Subsampling(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.coefficient = nn.Parameter(torch.empty(channels).uniform_(-0.6, 0.6))
        self.bias = nn.Parameter(torch.empty(channels).uniform_(-0.6, 0.6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) * 4 * self.coefficient.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class TorchLeNet5(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = _Subsampling(6)
        self.c3 = nn.Conv2d(6, 16, 5)
        mask = np.zeros((16, 6, 1, 1), dtype=np.float32)
        for k, inputs in enumerate(C3_TABLE):
            mask[k, list(inputs)] = 1
        self.register_buffer("mask", torch.from_numpy(mask))
        self.s4 = _Subsampling(16)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.register_buffer("prototypes", torch.from_numpy(load_rbf_bitmaps()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _squash(self.s2(_squash(self.c1(x))))
        x = _squash(self.s4(_squash(F.conv2d(x, self.c3.weight * self.mask, self.c3.bias))))
        x = _squash(self.f6(_squash(self.c5(x)).flatten(1)))
        return (x * x).sum(1, keepdim=True) - 2 * x @ self.prototypes.t() + (self.prototypes**2).sum(1)


def torch_map_loss(penalties: torch.Tensor, labels: torch.Tensor, j: float = 10.0) -> torch.Tensor:
    rubbish = torch.full((len(penalties), 1), -j)
    return penalties.gather(1, labels[:, None])[:, 0] + torch.logsumexp(torch.cat([-penalties, rubbish], 1), 1)
