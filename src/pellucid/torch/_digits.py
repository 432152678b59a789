"""A small CNN for the bundled 8x8 digits: trained in seconds, for demos, docs and tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["DigitsCNN", "digits_cnn", "digits_images"]


def digits_images(dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """``pellucid.datasets.digits()`` as images ``(1797, 1, 8, 8)`` scaled to [0, 1], and labels."""
    from ..datasets import digits

    X, y = digits()
    images = torch.as_tensor(X.to_numpy(dtype=np.float64) / 16.0, dtype=dtype).view(-1, 1, 8, 8)
    return images, torch.as_tensor(y.to_numpy().copy(), dtype=torch.long)


class DigitsCNN(torch.nn.Module):
    """conv(8) - BatchNorm - ReLU - maxpool - conv(16) - ReLU - avgpool - flatten - linear(10)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1),
            torch.nn.BatchNorm2d(8),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.AvgPool2d(2),
        )
        self.classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def digits_cnn(random_state: int = 0, *, epochs: int = 8, train_rows: int | None = 1400) -> Any:
    """A :class:`DigitsCNN` trained on the first ``train_rows`` digits (Adam, about 2 s on CPU).

    Returned in eval mode, float32, on the CPU. The same ``random_state`` gives
    the same weights. Rows after ``train_rows`` are a holdout (about 90% accuracy).
    """
    images, labels = digits_images()
    n = images.shape[0] if train_rows is None else int(train_rows)
    X, y = images[:n], labels[:n]
    threads = torch.get_num_threads()
    # so small a network trains fastest on one thread (and identically on any machine)
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(random_state))
            model = DigitsCNN()
            gen = torch.Generator().manual_seed(int(random_state))
            model.train()
            _train(model, X, y, epochs=int(epochs), gen=gen)
    finally:
        torch.set_num_threads(threads)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _train(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, *, epochs: int, gen) -> None:
    """Mini-batch Adam (lr 1e-2), written out: constructing a torch.optim optimizer
    imports torch._dynamo, which takes longer than this whole training run."""
    params = list(model.parameters())
    m1 = [torch.zeros_like(p) for p in params]
    m2 = [torch.zeros_like(p) for p in params]
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    step = 0
    n = X.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, 128):
            idx = order[start : start + 128]
            loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
            grads = torch.autograd.grad(loss, params)
            step += 1
            with torch.no_grad():
                for p, g, a, b in zip(params, grads, m1, m2, strict=True):
                    a.mul_(b1).add_(g, alpha=1 - b1)
                    b.mul_(b2).addcmul_(g, g, value=1 - b2)
                    denom = (b / (1 - b2**step)).sqrt_().add_(eps)
                    p.addcdiv_(a, denom, value=-lr / (1 - b1**step))
