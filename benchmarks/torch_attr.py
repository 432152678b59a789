"""pellucid.torch against captum and zennit, side by side, same model and batch.

Prints, per model and method, the median time of pellucid and of the reference
and their ratio (goal: <= 1.1), and LRP's time over one plain gradient pass
(goal: <= 3): wall-clock time, then CPU time of the process (steadier on a
shared machine; meaningless on a GPU), and the median minor page faults per
call. Also checks the two agree (max abs difference).

    PYTHONPATH=src python benchmarks/torch_attr.py [--device cuda] [--repeats 7] [--threads 1]

zennit: `pip install zennit --no-deps` is enough (torchvision is stubbed when it
does not import beside the installed torch).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import statistics
import sys
import time
import types
import warnings

import numpy as np
import torch
from torch import nn

import pellucid.torch as pt


def load_zennit():
    if importlib.util.find_spec("zennit") is None:
        return None
    try:
        importlib.import_module("torchvision.models.resnet")
    except Exception:
        for k in [k for k in sys.modules if k.split(".")[0] == "torchvision"]:
            del sys.modules[k]
        resnet = types.ModuleType("torchvision.models.resnet")
        resnet.BasicBlock = type("BasicBlock", (nn.Module,), {})  # type: ignore[attr-defined]
        resnet.Bottleneck = type("Bottleneck", (nn.Module,), {})  # type: ignore[attr-defined]
        models = types.ModuleType("torchvision.models")
        models.resnet = resnet  # type: ignore[attr-defined]
        tv = types.ModuleType("torchvision")
        tv.models = models  # type: ignore[attr-defined]
        sys.modules.update(
            {"torchvision": tv, "torchvision.models": models, "torchvision.models.resnet": resnet}
        )
    return importlib.import_module("zennit")


def cnn32() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(512, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _block_base() -> type[nn.Module]:
    """torchvision's BasicBlock (or zennit's stand-in for it) where one is loaded, so
    zennit's ResNetCanonizer recognises the blocks below; else nn.Module."""
    resnet = sys.modules.get("torchvision.models.resnet")
    return getattr(resnet, "BasicBlock", nn.Module) if resnet is not None else nn.Module


def resnet_small() -> nn.Module:
    """A ResNet-style CNN for 32 x 32 images: a conv-BN-ReLU stem, three torchvision-
    style basic blocks (conv-BN-ReLU-conv-BN plus the identity or a strided 1 x 1
    conv-BN shortcut, then ReLU) and a linear head; BatchNorm statistics randomised
    so the folding matters."""

    class BasicBlock(_block_base()):  # type: ignore[misc]
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            nn.Module.__init__(self)
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else None
            )
            self.stride = stride

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(out + identity)

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        BasicBlock(16, 16, 1),
        BasicBlock(16, 32, 2),
        BasicBlock(32, 64, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    return model.eval()


def setups(device: torch.device, models: set[str]):
    torch.manual_seed(1)
    if "cnn" in models:
        digits = pt.DigitsCNN().eval()
        x_digits = torch.rand(256, 1, 8, 8)
        yield "digits CNN, 256 x (1, 8, 8)", digits, x_digits, "features.4", (1, 2, 2)
        yield "cnn32, 16 x (3, 32, 32)", cnn32(), torch.rand(16, 3, 32, 32), "8", (3, 8, 8)
    if "resnet" in models:
        # batches of 1-4 images, where per-call overhead counts most, and 32
        for n in (1, 2, 4, 32):
            x = torch.rand(n, 3, 32, 32)
            yield f"resnet_small, {n} x (3, 32, 32)", resnet_small(), x, "5", (3, 8, 8)
    if device.type == "cuda" and "cnn" in models:
        # big enough for the GPU's compute, not its launch overhead, to set the times
        yield "cnn32, 256 x (3, 64, 64)", cnn32(), torch.rand(256, 3, 64, 64), "8", (3, 16, 16)


def _faults() -> int:
    """Minor page faults of this process so far (0 where getrusage is missing)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _once(fn, device: torch.device) -> tuple[float, float, int]:
    """Wall-clock and CPU (process) seconds of one call, and its minor page faults."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, c0, f0 = time.perf_counter(), time.process_time(), _faults()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, time.process_time() - c0, _faults() - f0


def timed(fns, repeats: int, device: torch.device) -> list[tuple[float, float, float]]:
    """Median (wall, CPU) time and page faults of each function; runs alternate so load
    drifts hit all alike.

    On a shared CPU the CPU time is the steadier measure of the work done (it leaves
    out the time other jobs hold the cores); on a GPU only the wall time means anything.
    The page faults show when a call's time went on memory that the allocator had
    handed back to the OS and had to fault in (zeroed) again.
    """
    for fn in fns:
        fn()  # warm up
    ts: list[list[tuple[float, float, int]]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            ts[i].append(_once(fn, device))
    return [
        (
            statistics.median(w for w, _, _ in t),
            statistics.median(c for _, c, _ in t),
            statistics.median(f for _, _, f in t),
        )
        for t in ts
    ]


def cases(model, x, target, layer_name, window, zennit):
    """(name, pellucid fn, reference fn) returning arrays/tensors of attributions."""
    import captum.attr as ca
    from captum.attr import LayerAttribution

    layer = dict(model.named_modules())[layer_name]
    bg = x[:16].flip(0) * 0.5
    t = target

    def ours(method):
        return lambda: method.explain(x, target=t).values

    out = [
        ("Saliency", ours(pt.Saliency(model)), lambda: ca.Saliency(model).attribute(x, target=t)),
        (
            "SmoothGrad (10)",
            ours(pt.SmoothGrad(model, n_samples=10, stdev=0.1, random_state=0)),
            lambda: ca.NoiseTunnel(ca.Saliency(model)).attribute(
                x, nt_samples=10, stdevs=0.1, target=t, abs=False
            ),
        ),
        (
            "IntegratedGradients (50)",
            ours(pt.IntegratedGradients(model, n_steps=50)),
            lambda: ca.IntegratedGradients(model).attribute(x, target=t, n_steps=50),
        ),
        (
            "GradientShap (10)",
            ours(pt.GradientShap(model, bg, n_samples=10, random_state=0)),
            lambda: ca.GradientShap(model).attribute(x, bg, n_samples=10, target=t),
        ),
        (
            # pellucid also returns f(x), the base value and the completeness gap: captum
            # computes the like of them when asked for its convergence delta
            "GradientShap (10), delta",
            ours(pt.GradientShap(model, bg, n_samples=10, random_state=0)),
            lambda: ca.GradientShap(model).attribute(
                x, bg, n_samples=10, target=t, return_convergence_delta=True
            )[0],
        ),
        (
            "GuidedBackprop",
            ours(pt.GuidedBackprop(model)),
            lambda: ca.GuidedBackprop(model).attribute(x, target=t),
        ),
        (
            "GradCam",
            ours(pt.GradCam(model, layer_name, relu=False)),
            lambda: LayerAttribution.interpolate(
                ca.LayerGradCam(model, layer).attribute(x, target=t),
                tuple(x.shape[2:]),
                "bilinear",
            ),
        ),
        (
            "Occlusion",
            ours(pt.Occlusion(model, 0.0, window=window, strides=window)),
            lambda: ca.Occlusion(model).attribute(
                x, sliding_window_shapes=window, strides=window, target=t, baselines=0.0
            ),
        ),
    ]
    if zennit is not None:
        from zennit.attribution import Gradient
        from zennit.canonizers import SequentialMergeBatchNorm
        from zennit.composites import EpsilonGammaBox, EpsilonPlus
        from zennit.torchvision import ResNetCanonizer

        residual = any(type(m).__name__ == "BasicBlock" for m in model.modules())

        def canonizers():
            return [ResNetCanonizer() if residual else SequentialMergeBatchNorm()]

        onehot = torch.zeros(x.shape[0], 10, device=x.device, dtype=x.dtype)
        onehot[torch.arange(x.shape[0]), t] = 1

        def zen(composite):
            def run():
                with Gradient(model, composite) as attr:
                    return attr(x, attr_output=lambda o: onehot * o)[1]

            return run

        out += [
            (
                "LRP epsilon_plus",
                ours(pt.Lrp(model, composite="epsilon_plus")),
                zen(EpsilonPlus(canonizers=canonizers())),
            ),
            (
                "LRP epsilon_gamma_box",
                ours(pt.Lrp(model, composite="epsilon_gamma_box", low=0.0, high=1.0)),
                zen(EpsilonGammaBox(low=0.0, high=1.0, canonizers=canonizers())),
            ),
        ]
    return out


def plain_gradient(model, x, t):
    def run():
        xg = x.detach().requires_grad_(True)
        y = model(xg).gather(1, t.view(-1, 1)).sum()
        return torch.autograd.grad(y, xg)[0]

    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: leave as is)")
    p.add_argument(
        "--models", default="cnn,resnet", help="comma-separated: cnn (digits, cnn32), resnet"
    )
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    warnings.simplefilter("ignore")
    zennit = load_zennit()
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    print(f"zennit: {'yes' if zennit else 'not installed (LRP rows skipped)'}")
    for title, model, x, layer, window in setups(device, set(args.models.split(","))):
        model = model.to(device)
        x = x.to(device)
        with torch.no_grad():
            target = model(x).argmax(1)
        print(f"\n## {title}")
        print(
            f"{'method':28s} {'pellucid':>10s} {'reference':>10s} {'ratio':>6s} "
            f"{'cpu:ours':>10s} {'cpu:ref':>10s} {'ratio':>6s} {'max|diff|':>10s} "
            f"{'flt:ours':>8s} {'flt:ref':>8s}"
        )
        grad = plain_gradient(model, x, target)
        saliency = pt.Saliency(model, mode="gradient")

        def sal(m=saliency, x=x, t=target):
            return m.explain(x, target=t).values

        ((grad_time, grad_cpu, _),) = timed([grad], args.repeats, device)
        print(
            f"{'plain gradient pass':28s} {grad_time * 1e3:9.2f}ms {'':10s} {'':6s} "
            f"{grad_cpu * 1e3:9.2f}ms"
        )
        for name, ours, ref_device in cases(model, x, target, layer, window, zennit):
            # pellucid returns host (numpy) arrays: time the reference up to the same point
            def ref(f=ref_device):
                return f().detach().cpu()

            a = np.asarray(ours())
            b = ref().numpy()
            sampled = "Shap" in name or "Smooth" in name  # different random draws
            diff = np.nan if sampled else float(np.abs(a - np.broadcast_to(b, a.shape)).max())
            if name.startswith("LRP"):
                # LRP against one plain gradient pass (raw autograd on the device, and
                # pellucid's Saliency(mode="gradient"), which also returns host arrays)
                (t_ours, c_ours, f_ours), (t_ref, c_ref, f_ref), grad_t, sal_t = timed(
                    [ours, ref, grad, sal], args.repeats, device
                )
                (t_grad, c_grad, _), (t_sal, c_sal, _) = grad_t, sal_t
                extra = (
                    f"  ({t_ours / t_grad:.2f}x gradient, {t_ours / t_sal:.2f}x Saliency; "
                    f"cpu {c_ours / c_grad:.2f}x, {c_ours / c_sal:.2f}x)"
                )
            else:
                (t_ours, c_ours, f_ours), (t_ref, c_ref, f_ref) = timed(
                    [ours, ref], args.repeats, device
                )
                extra = ""
            print(
                f"{name:28s} {t_ours * 1e3:9.2f}ms {t_ref * 1e3:9.2f}ms {t_ours / t_ref:6.2f} "
                f"{c_ours * 1e3:9.2f}ms {c_ref * 1e3:9.2f}ms {c_ours / c_ref:6.2f} "
                f"{diff:10.2e} {f_ours:8.0f} {f_ref:8.0f}{extra}"
            )


if __name__ == "__main__":
    main()
