"""Small float64 models shared by the torch tests (and the zennit import shim)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn


def mlp(bias: bool = True, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(6, 10, bias=bias),
        nn.ReLU(),
        nn.Linear(10, 8, bias=bias),
        nn.ReLU(),
        nn.Linear(8, 3, bias=bias),
    ).double()


def _randomise_bn(model: nn.Module, eps: float) -> None:
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g, dtype=torch.float64) * 0.3)
            m.running_var.copy_(torch.rand(c, generator=g, dtype=torch.float64) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g, dtype=torch.float64) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=g, dtype=torch.float64) * 0.2)
            m.eps = eps


def cnn(seed: int = 0, bn_eps: float = 1e-5) -> nn.Module:
    """conv - BN - ReLU - maxpool - conv - ReLU - avgpool - flatten - linear on (2, 8, 8)."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(24, 8),
        nn.ReLU(),
        nn.Linear(8, 3),
    ).double()
    _randomise_bn(model, bn_eps)
    return model.eval()


class _BasicBlock(nn.Module):
    """A copy of torchvision.models.resnet.BasicBlock (used where torchvision won't import)."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):  # fmt: skip
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


_BasicBlock.__name__ = "BasicBlock"
_BasicBlock.__qualname__ = "BasicBlock"


def _install_torchvision_stub() -> None:
    for name in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
        del sys.modules[name]
    resnet = types.ModuleType("torchvision.models.resnet")
    resnet.BasicBlock = _BasicBlock  # type: ignore[attr-defined]
    resnet.Bottleneck = type("Bottleneck", (nn.Module,), {})  # type: ignore[attr-defined]
    models = types.ModuleType("torchvision.models")
    models.resnet = resnet  # type: ignore[attr-defined]
    tv = types.ModuleType("torchvision")
    tv.models = models  # type: ignore[attr-defined]
    sys.modules.update(
        {"torchvision": tv, "torchvision.models": models, "torchvision.models.resnet": resnet}
    )


def basic_block_class():
    """torchvision's BasicBlock when torchvision imports, else the copy above."""
    zennit()
    return sys.modules["torchvision.models.resnet"].BasicBlock


def zennit():
    """Import zennit. zennit imports torchvision only for its ResNet canonizer; where the
    installed torchvision does not import beside this torch, a stub stands in for it
    (zennit's rules, composites and canonizers need nothing else from it)."""
    if "zennit" in sys.modules:
        return sys.modules["zennit"]
    if importlib.util.find_spec("zennit") is None:
        pytest.skip("zennit is not installed (pip install zennit --no-deps)")
    try:
        importlib.import_module("torchvision.models.resnet")
    except Exception:
        _install_torchvision_stub()
    return importlib.import_module("zennit")


def resnet_like(seed: int = 0, bn_eps: float = 1e-5) -> nn.Module:
    """conv - BN - ReLU, two BasicBlocks (one downsampling), avgpool, linear, on (2, 8, 8)."""
    block = basic_block_class()
    torch.manual_seed(seed)
    down = nn.Sequential(nn.Conv2d(4, 6, 1, stride=2, bias=False), nn.BatchNorm2d(6))
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        block(4, 4),
        block(4, 6, stride=2, downsample=down),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 3),
    ).double()
    _randomise_bn(model, bn_eps)
    return model.eval()
