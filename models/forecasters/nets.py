"""The three sequence networks. Each maps a window (batch, window, features) to a forward
return per horizon (batch, H) and class logits (batch, H, 3); only the body differs.

The heads see the body's summary of the window next to the latest feature row itself
(a skip connection), so every network is at least a linear model of the present.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Heads(nn.Module):
    def __init__(self, width: int, n_features: int, n_horizons: int):
        super().__init__()
        self.n_horizons = n_horizons
        self.ret = nn.Linear(width + n_features, n_horizons)
        self.cls = nn.Linear(width + n_features, n_horizons * 3)

    def forward(self, summary: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.cat([summary, x[:, -1]], dim=1)
        return self.ret(z), self.cls(z).view(-1, self.n_horizons, 3)


class RecurrentNet(nn.Module):
    def __init__(
        self,
        cell: str,
        n_features: int,
        n_horizons: int,
        hidden: int,
        layers: int,
        dropout: float = 0.0,
        **_: object,
    ):
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn(
            n_features,
            hidden,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.heads = Heads(hidden, n_features, n_horizons)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, _ = self.rnn(x)
        heads: tuple[torch.Tensor, torch.Tensor] = self.heads(out[:, -1], x)
        return heads


class TransformerNet(nn.Module):
    def __init__(
        self,
        n_features: int,
        n_horizons: int,
        hidden: int,
        layers: int,
        window: int,
        heads: int = 2,
        dropout: float = 0.0,
        **_: object,
    ):
        super().__init__()
        self.embed = nn.Linear(n_features, hidden)
        self.position = nn.Parameter(torch.zeros(1, window, hidden))
        layer = nn.TransformerEncoderLayer(
            hidden, heads, dim_feedforward=2 * hidden, dropout=dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.heads = Heads(hidden, n_features, n_horizons)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.embed(x) + self.position[:, -x.shape[1] :]
        heads: tuple[torch.Tensor, torch.Tensor] = self.heads(self.encoder(z)[:, -1], x)
        return heads


def build(kind: str, n_features: int, n_horizons: int, params: dict[str, Any]) -> nn.Module:
    shape: dict[str, Any] = {
        "n_features": n_features,
        "n_horizons": n_horizons,
        "hidden": int(params["hidden"]),
        "layers": int(params["layers"]),
        "dropout": float(params["dropout"]),
    }
    if kind == "transformer":
        return TransformerNet(window=int(params["window"]), heads=int(params["heads"]), **shape)
    return RecurrentNet(kind, **shape)
