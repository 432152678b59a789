"""The PyTorch explainers on a CUDA device give the CPU's numbers.

Skipped without a CUDA device (CI has none; run on a GPU machine with
``pytest tests/test_torch_cuda.py``). In float64 the deterministic methods must
match their CPU results to rounding; the sampled ones draw their noise from a
CUDA generator, as captum does on that device, so they are compared with captum
on the same device (where captum is installed) and with themselves: the same
seed gives the same bytes (explain turns on cuDNN's deterministic algorithms).
Float32 on the GPU must stay within float32 (and TF32) accuracy of float64 on
the CPU, and bfloat16 keep the maps' pattern. Every run leaves the model on its
device and unchanged.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA device", allow_module_level=True)

import pellucid  # noqa: E402
import pellucid.torch as pt  # noqa: E402
from torch_models import cnn, mlp, resnet_like  # noqa: E402

TARGET = np.array([0, 1, 2, 1, 0])
CUDA = torch.device("cuda")


def _inputs(shape, n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=g, dtype=torch.float64)


def _background():
    return _inputs((2, 8, 8), n=6, seed=11)


# float64 on both devices; LRP's composites and canonizers each get a case
DETERMINISTIC = {
    "saliency_abs": (cnn, lambda m: pt.Saliency(m)),
    "saliency_x_input": (cnn, lambda m: pt.Saliency(m, mode="gradient_x_input")),
    "ig_gausslegendre": (cnn, lambda m: pt.IntegratedGradients(m, 0.1, n_steps=16)),
    "ig_trapezoid": (
        cnn,
        lambda m: pt.IntegratedGradients(m, n_steps=9, rule="riemann_trapezoid", batch_size=7),
    ),
    "guided_backprop": (cnn, lambda m: pt.GuidedBackprop(m)),
    "grad_cam": (cnn, lambda m: pt.GradCam(m)),
    "guided_grad_cam": (cnn, lambda m: pt.GradCam(m, guided=True)),
    "occlusion": (cnn, lambda m: pt.Occlusion(m, 0.0, window=(2, 3, 3), strides=(1, 2, 2))),
    "lrp_epsilon_plus": (cnn, lambda m: pt.Lrp(m)),
    "lrp_epsilon_gamma_box": (
        cnn,
        lambda m: pt.Lrp(m, composite="epsilon_gamma_box", low=-3.0, high=3.0),
    ),
    "lrp_alpha2_beta1": (cnn, lambda m: pt.Lrp(m, composite="epsilon_alpha2_beta1")),
    "lrp_plus_flat": (cnn, lambda m: pt.Lrp(m, composite="epsilon_plus_flat")),
    "lrp_zero_mlp": (mlp, lambda m: pt.Lrp(m, rule="zero")),
    "lrp_residual": (
        resnet_like,
        lambda m: pt.Lrp(m, composite="epsilon_gamma_box", low=-3.0, high=3.0),
    ),
}


def _state(model):
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        pt.hooks_snapshot(model),
        {n: m.training for n, m in model.named_modules()},
    )


def _assert_unchanged(model, state):
    params, hooks, training = state
    for k, v in model.state_dict().items():
        assert v.device.type == params[k].device.type, k
        assert torch.equal(v, params[k]), k
    assert pt.hooks_snapshot(model) == hooks
    assert {n: m.training for n, m in model.named_modules()} == training
    assert all(p.grad is None for p in model.parameters())


def _shape(make):
    return (6,) if make is mlp else (2, 8, 8)


@pytest.mark.parametrize("name", list(DETERMINISTIC))
def test_deterministic_methods_match_the_cpu_in_float64(name):
    make, explainer = DETERMINISTIC[name]
    x = _inputs(_shape(make))
    cpu = explainer(make()).explain(x, target=TARGET)
    model = make().to(CUDA)
    state = _state(model)
    gpu = explainer(model).explain(x.to(CUDA), target=TARGET)
    _assert_unchanged(model, state)
    assert isinstance(gpu.values, np.ndarray) and gpu.values.dtype == np.float64
    # float64 kernels differ from the CPU's in summation order only: ~1e-15 relative,
    # amplified at most a few orders by LRP's divisions by small activations
    scale = np.abs(cpu.values).max()
    assert scale > 0
    np.testing.assert_allclose(gpu.values, cpu.values, rtol=1e-9, atol=1e-11 * scale)
    np.testing.assert_allclose(gpu.output, cpu.output, rtol=1e-12)
    if cpu.base_values is None:
        assert gpu.base_values is None
    else:
        np.testing.assert_allclose(gpu.base_values, cpu.base_values, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["saliency_x_input", "ig_gausslegendre", "lrp_epsilon_plus"])
def test_float32_on_the_gpu_is_within_float32_accuracy(name):
    make, explainer = DETERMINISTIC[name]
    x = _inputs(_shape(make))
    ref = explainer(make()).explain(x, target=TARGET).values
    model = make().float().to(CUDA)
    gpu = explainer(model).explain(x.float().to(CUDA), target=TARGET).values
    assert gpu.dtype == np.float32
    # cuDNN may run float32 convolutions in TF32 (10-bit mantissa, ~5e-4 per product)
    err = np.abs(gpu - ref).max() / np.abs(ref).max()
    print(f"{name}: float32 GPU vs float64 CPU, max error / max value = {err:.2e}")
    assert err < 1e-2


@pytest.mark.parametrize("name", list(DETERMINISTIC))
def test_bfloat16_on_the_gpu_follows_float64(name):
    # bfloat16 keeps 8 bits of mantissa (~0.4% per operation): the maps must keep
    # their pattern, not their digits
    make, explainer = DETERMINISTIC[name]
    x = _inputs(_shape(make))
    ref = explainer(make()).explain(x, target=TARGET).values
    model = make().to(CUDA, torch.bfloat16)
    got = explainer(model).explain(x.to(CUDA), target=TARGET).values
    assert got.dtype == np.float32 and np.isfinite(got).all()
    corr = np.corrcoef(ref.ravel(), got.ravel())[0, 1]
    print(f"{name}: bfloat16 GPU vs float64 CPU, correlation {corr:.4f}")
    assert corr > 0.99


def _captum(name):
    captum_attr = pytest.importorskip("captum.attr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(captum_attr, name)


@pytest.mark.filterwarnings("ignore::UserWarning:captum")
@pytest.mark.parametrize("stdev", [0.0, 0.3])
def test_gradient_shap_matches_captum_on_the_gpu(stdev):
    ref_cls = _captum("GradientShap")
    model, x, bg = cnn().to(CUDA), _inputs((2, 8, 8)).to(CUDA), _background().to(CUDA)
    exp = pt.GradientShap(model, bg, n_samples=7, stdev=stdev, random_state=5).explain(
        x, target=TARGET
    )
    np.random.seed(5)  # noqa: NPY002 (captum draws from the global RandomState)
    torch.manual_seed(5)  # seeds the CUDA generator too
    ref = ref_cls(model).attribute(
        x, baselines=bg, target=torch.as_tensor(TARGET, device=CUDA), n_samples=7, stdevs=stdev
    )
    np.testing.assert_allclose(exp.values, ref.detach().cpu().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.filterwarnings("ignore::UserWarning:captum")
@pytest.mark.parametrize("kind", ["smoothgrad", "vargrad"])
def test_smoothgrad_matches_captum_on_the_gpu(kind):
    tunnel, saliency = _captum("NoiseTunnel"), _captum("Saliency")
    model, x = cnn().to(CUDA), _inputs((2, 8, 8)).to(CUDA)
    exp = pt.SmoothGrad(model, n_samples=6, stdev=0.2, kind=kind, random_state=2).explain(
        x, target=TARGET
    )
    torch.manual_seed(2)
    nt = tunnel(saliency(model))
    ref = nt.attribute(
        x,
        nt_type=kind,
        nt_samples=6,
        stdevs=0.2,
        target=torch.as_tensor(TARGET, device=CUDA),
        abs=False,
    )
    np.testing.assert_allclose(exp.values, ref.detach().cpu().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda m, s: pt.SmoothGrad(m, n_samples=5, random_state=s),
        lambda m, s: pt.GradientShap(m, _background(), n_samples=5, random_state=s),
    ],
    ids=["smoothgrad", "gradient_shap"],
)
def test_sampled_methods_repeat_bytes_for_a_seed_on_the_gpu(make):
    # cuDNN's default backward convolutions differ in the last bits from run to run;
    # explain runs them in deterministic mode and restores the user's flags after
    cudnn = torch.backends.cudnn
    flags = cudnn.deterministic, cudnn.benchmark
    model, x = cnn().to(CUDA), _inputs((2, 8, 8)).to(CUDA)
    state = _state(model)
    a = make(model, 3).explain(x, target=TARGET)
    b = make(model, 3).explain(x, target=TARGET)
    c = make(model, 4).explain(x, target=TARGET)
    _assert_unchanged(model, state)
    assert (cudnn.deterministic, cudnn.benchmark) == flags
    assert a.values.tobytes() == b.values.tobytes()
    assert a.std_errors is not None and a.std_errors.tobytes() == b.std_errors.tobytes()
    assert not np.allclose(a.values, c.values)


def test_model_agnostic_shapley_of_a_gpu_module_matches_the_cpu():
    # the Model wrapper moves hybrid rows to the module's device and the outputs back
    rng = np.random.default_rng(0)
    background, X = rng.normal(size=(20, 6)), rng.normal(size=(4, 6))

    def explain(module):
        model = pellucid.Model(module, task="multiclass", classes=[0, 1, 2])
        return pellucid.ExactShap(model, background).explain(X)

    cpu = explain(mlp())
    module = mlp().to(CUDA)
    state = _state(module)
    gpu = explain(module)
    _assert_unchanged(module, state)
    np.testing.assert_allclose(gpu.values, cpu.values, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gpu.base_values, cpu.base_values, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gpu.additivity_gap, 0, atol=1e-10)
