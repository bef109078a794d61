"""The shared torch trainer's fast paths change no figure: the weights it trains are bit for
bit those of the plain loop (advanced indexing for the windows, Adam one tensor at a time)."""

from __future__ import annotations

import pytest

from models.catalog import TORCH_KINDS


def _plain_fit(net, t, batch, lr, seed, epochs):
    import torch

    from models.forecasters import trainer

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr, foreach=False)
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(t), generator=gen)
        for i in range(0, len(order), batch):
            sel = order[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss = trainer.loss_fn(net, t.x[t.index[sel]], t.ret[sel], t.cls[sel])
            loss.backward()
            opt.step()


@pytest.mark.slow
@pytest.mark.parametrize("kind", TORCH_KINDS)
def test_trainer_weights_equal_the_plain_loop_bit_for_bit(kind):
    import torch

    from models.forecasters import nets, trainer

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1)
    n, features, width = 300, 7, 10
    x = torch.randn(n + 1, features, generator=gen)
    x[-1] = 0  # the zero row windows pad with
    index = torch.randint(0, n + 1, (200, width), generator=gen)
    ret = torch.randn(200, 2, generator=gen)
    cls = torch.randint(0, 3, (200, 2), generator=gen)
    train = trainer.Tensors(x, index, ret, cls)
    params = {"hidden": 8, "layers": 1, "dropout": 0.0, "window": width, "heads": 2}
    torch.manual_seed(0)
    ours = nets.build(kind, features, 2, params)
    torch.manual_seed(0)
    plain = nets.build(kind, features, 2, params)
    # an empty validation set scores 0 after epoch 1 and never improves on it: with patience
    # above the epochs all three run, and the weights kept are epoch 1's
    run = trainer.fit(
        ours,
        train,
        trainer.Tensors(x, index[:0], ret[:0], cls[:0]),
        epochs=3,
        batch=16,
        lr=2e-3,
        patience=10,
        seed=0,
        progress=lambda f, m: None,
        stop=None,
    )
    assert run.epochs == 3
    _plain_fit(plain, train, 16, 2e-3, 0, 1)
    for (name, a), b in zip(ours.state_dict().items(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert torch.equal(train.batch(index[:5].new_tensor([3, 1]))[0], x[index[[3, 1]]])
