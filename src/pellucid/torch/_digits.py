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


def digits_cnn(random_state: int = 0, *, epochs: int = 12, train_rows: int | None = 1400) -> Any:
    """A :class:`DigitsCNN` trained on the first ``train_rows`` digits (Adam, a few seconds on CPU).

    Returned in eval mode, float32, on the CPU. The same ``random_state`` gives
    the same weights. Rows after ``train_rows`` are a holdout (about 95% accuracy).
    """
    images, labels = digits_images()
    n = images.shape[0] if train_rows is None else int(train_rows)
    X, y = images[:n], labels[:n]
    threads = torch.get_num_threads()
    # so small a network trains fastest on one thread (and identically on any machine)
    torch.set_num_threads(1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(random_state))
        model = DigitsCNN()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        gen = torch.Generator().manual_seed(int(random_state))
        model.train()
        for _ in range(int(epochs)):
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, 100):
                idx = order[start : start + 100]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
                loss.backward()
                opt.step()
    torch.set_num_threads(threads)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
