"""Training throughput of each torch kind through the shared trainer vs a bare torch loop
over the SAME window tensors, same network, batch size and optimizer, in the same run.
Target: trainer overhead <= 10% on the training passes (the whole fit, validation
passes and best-state copies included, is printed next to it).
Data: synthetic symbols (assistant.ingest.sources.synthetic), 10 symbols x 1000 sessions."""

from __future__ import annotations

import time

import numpy as np
import torch

from assistant.ingest.sources.synthetic import synthetic_bars
from models import catalog, dataset
from models.forecasters import nets, trainer
from models.forecasters.sequence import SequenceForecaster

EPOCHS = 3


def bare_loop(net, t, batch, lr, seed):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    start = time.perf_counter()
    for _ in range(EPOCHS):
        net.train()
        order = torch.randperm(len(t), generator=gen)
        for i in range(0, len(order), batch):
            x, target, cls = t.batch(order[i : i + batch])
            opt.zero_grad(set_to_none=True)
            ret, logits = net(x)
            loss = torch.nn.functional.mse_loss(ret, target) + torch.nn.functional.cross_entropy(
                logits.reshape(-1, 3), cls.reshape(-1)
            )
            loss.backward()
            opt.step()
    return EPOCHS * len(t) / (time.perf_counter() - start)


def main() -> None:
    torch.set_num_threads(1)  # what training uses with two models in parallel
    bars = {f"SYN{i}": synthetic_bars(1000, seed=i, edge=0.55) for i in range(10)}
    split = dataset.split(dataset.panel(bars, (1, 3, 5)))
    print(
        f"synthetic data: 10 symbols x 1000 sessions, {split.train.n} train rows, {EPOCHS} epochs"
    )
    ok = True
    for kind in catalog.TORCH_KINDS:
        model = catalog.make(kind, (1, 3, 5), epochs=EPOCHS, patience=EPOCHS + 1)
        assert isinstance(model, SequenceForecaster)  # the torch kinds are sequence models
        model.features = list(split.train.X.columns)
        model.scaler = dataset.Scaler.fit(split.train.X, split.train.rows)
        scale = np.std(split.train.ret(model.horizons), axis=0)
        tr, va = (
            trainer.tensors(
                model._windows(d.X, d.rows),
                np.clip(d.ret(model.horizons) / scale, -3, 3),
                d.cls(model.horizons),
                torch.device("cpu"),
            )
            for d in (split.train, split.val)
        )
        p = model.params
        bare, ours, whole = 0.0, 0.0, 0.0
        for _ in range(2):  # interleaved, best of two: the machine is shared
            torch.manual_seed(0)
            bare = max(
                bare, bare_loop(nets.build(kind, tr.x.shape[1], 3, p), tr, p["batch"], p["lr"], 0)
            )
            torch.manual_seed(0)
            net = nets.build(kind, tr.x.shape[1], 3, p)
            start = time.perf_counter()
            info = trainer.fit(
                net,
                tr,
                va,
                epochs=EPOCHS,
                batch=p["batch"],
                lr=p["lr"],
                patience=EPOCHS + 1,
                seed=0,
                progress=lambda f, m: None,
                stop=None,
            )
            whole = max(whole, EPOCHS * len(tr) / (time.perf_counter() - start))
            ours = max(ours, info.train_samples_per_s or 0.0)
        overhead = bare / ours - 1
        verdict = "PASS" if overhead <= 0.10 else "FAIL"
        ok &= verdict == "PASS"
        print(
            f"{kind:<12} trainer {ours:,.0f} samples/s, bare loop {bare:,.0f} samples/s: "
            f"overhead {overhead:+.1%} (target <= +10%) {verdict}; "
            f"whole fit incl. validation passes {whole:,.0f} samples/s"
        )
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
