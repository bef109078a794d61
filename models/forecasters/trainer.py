"""The one torch trainer shared by LSTM, GRU and Transformer.

Loss = MSE on (scaled) forward returns + cross-entropy on classes, summed over horizons.
Adam, mini-batches of windows gathered from one copy of the rows, early stopping on validation loss with
the best weights restored. An epoch visits every training window, or a fresh random draw of
`samples` of them when there are more (a 500-symbol panel), so an epoch's cost is bounded.
Seeded; CPU unless CUDA is available.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from models.base import Progress, check_stop
from models.dataset import Windows


@dataclass(frozen=True)
class Run:
    """What one training run found."""

    epochs: int  # epochs run (early stopping may end it before the limit)
    best_val_loss: float
    train_samples_per_s: float | None


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Tensors:
    x: torch.Tensor  # (N + 1, features): every row once, a zero row last
    index: torch.Tensor  # (n, window) rows of each sample's window
    ret: torch.Tensor  # (n, H) scaled returns
    cls: torch.Tensor  # (n, H) class ids

    def __len__(self) -> int:
        return len(self.index)

    def batch(self, sel: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(windows (b, window, features), returns, classes) of the samples `sel`."""
        index = self.index[sel]
        # index_select on the flat row list: the same copy as x[index], without the
        # advanced-indexing machinery (a measurable share of a small network's step)
        x = self.x.index_select(0, index.reshape(-1)).view(*index.shape, self.x.shape[1])
        return x, self.ret[sel], self.cls[sel]


def tensors(x: Windows, ret: np.ndarray, cls: np.ndarray, dev: torch.device) -> Tensors:
    return Tensors(
        torch.as_tensor(x.values, dtype=torch.float32, device=dev),
        torch.as_tensor(x.index, dtype=torch.long, device=dev),
        torch.as_tensor(ret, dtype=torch.float32, device=dev),
        torch.as_tensor(cls, dtype=torch.long, device=dev),
    )


def loss_fn(net: nn.Module, x: torch.Tensor, ret: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
    pred, logits = net(x)
    mse = nn.functional.mse_loss(pred, ret)
    ce = nn.functional.cross_entropy(logits.reshape(-1, 3), cls.reshape(-1))
    return mse + ce


def evaluate(net: nn.Module, data: Tensors, batch: int) -> float:
    net.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(data), batch):
            x, ret, cls = data.batch(slice(i, i + batch))
            total += float(loss_fn(net, x, ret, cls)) * len(x)
    return total / max(len(data), 1)


def fit(
    net: nn.Module,
    train: Tensors,
    val: Tensors,
    *,
    epochs: int,
    batch: int,
    lr: float,
    patience: int,
    seed: int,
    progress: Progress,
    stop: threading.Event | None,
    samples: int | None = None,
) -> Run:
    """Train in place; returns what the run found (epochs run, best val loss, samples/s)."""
    gen = torch.Generator().manual_seed(seed)
    # foreach: one call per update op over all parameters instead of one per tensor; the
    # same arithmetic in the same order (weights bit for bit equal, torch 2.13 CPU)
    opt = torch.optim.Adam(net.parameters(), lr=lr, foreach=True)
    best, best_state, bad, seen, busy = float("inf"), copy.deepcopy(net.state_dict()), 0, 0, 0.0
    epoch = 0
    for epoch in range(1, epochs + 1):
        check_stop(stop)
        net.train()
        start = time.perf_counter()
        order = torch.randperm(len(train), generator=gen)[:samples].to(train.x.device)
        for i in range(0, len(order), batch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net, *train.batch(order[i : i + batch]))
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
            opt.step()
        busy += time.perf_counter() - start
        seen += len(order)
        val_loss = evaluate(net, val, 4 * batch)
        if val_loss < best - 1e-4:
            best, best_state, bad = val_loss, copy.deepcopy(net.state_dict()), 0
        else:
            bad += 1
        progress(epoch / epochs, f"epoch {epoch}/{epochs} val loss {val_loss:.4f}")
        if bad >= patience:
            break
    net.load_state_dict(best_state)
    net.eval()
    return Run(epoch, round(best, 6), round(seen / busy, 1) if busy else None)
