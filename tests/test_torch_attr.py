"""The gradient family against captum in float64, plus axioms and the model's state."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import pellucid  # noqa: E402
import pellucid.torch as pt  # noqa: E402
from torch_models import cnn, mlp  # noqa: E402

nn = torch.nn
TOL = dict(rtol=1e-6, atol=1e-6)
# captum warns about inputs it sets requires_grad on and about the hooks it adds
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:captum")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _inputs(shape, n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=g, dtype=torch.float64)


def _captum(name):
    import importlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(importlib.import_module("captum.attr"), name)


NETS = {"mlp": (mlp, (6,)), "cnn": (cnn, (2, 8, 8))}
TARGET = np.array([0, 1, 2, 1, 0])


def _net(name):
    make, shape = NETS[name]
    return make(), _inputs(shape)


def _tt():
    return torch.as_tensor(TARGET)


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("mode", ["abs", "gradient", "gradient_x_input"])
def test_saliency_matches_captum(net, mode):
    model, x = _net(net)
    ours = pt.Saliency(model, mode=mode).explain(x, target=TARGET)
    if mode == "gradient_x_input":
        ref = _captum("InputXGradient")(model).attribute(x, target=_tt())
    else:
        ref = _captum("Saliency")(model).attribute(x, target=_tt(), abs=mode == "abs")
    np.testing.assert_allclose(ours.values, ref.detach().numpy(), **TOL)
    assert ours.values.shape == tuple(x.shape)
    np.testing.assert_allclose(ours.output, model(x).detach().numpy()[np.arange(5), TARGET])


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize(
    "rule",
    ["gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"],
)
def test_integrated_gradients_matches_captum(net, rule):
    model, x = _net(net)
    baseline = 0.1 * _inputs(tuple(x.shape[1:]), n=1, seed=7)
    ours = pt.IntegratedGradients(model, baseline, n_steps=20, rule=rule, batch_size=33)
    exp = ours.explain(x, target=TARGET)
    ig = _captum("IntegratedGradients")(model)
    ref, delta = ig.attribute(
        x, baselines=baseline, target=_tt(), n_steps=20, method=rule, return_convergence_delta=True
    )
    # captum rounds its quadrature weights to float32 (relative error ~1e-7)
    np.testing.assert_allclose(exp.values, ref.detach().numpy(), **TOL)
    np.testing.assert_allclose(
        exp.diagnostics["delta"], delta.detach().numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(exp.additivity_gap, exp.diagnostics["delta"], atol=1e-12)


def test_integrated_gradients_delta_falls_with_steps():
    model, x = _net("cnn")
    deltas = [
        np.abs(
            pt.IntegratedGradients(model, n_steps=n, rule="riemann_trapezoid")
            .explain(x, target=TARGET)
            .diagnostics["delta"]
        ).mean()
        for n in (4, 16, 64, 256)
    ]
    assert all(b < a for a, b in zip(deltas, deltas[1:], strict=False)), deltas
    assert deltas[-1] < deltas[0] / 20


def test_integrated_gradients_on_a_linear_model_is_exact():
    # closed form: for f(x) = w.x + c, IG = w * (x - baseline) with any rule
    torch.manual_seed(0)
    model = nn.Linear(6, 2).double()
    x = _inputs((6,), n=4)
    exp = pt.IntegratedGradients(model, 0.5, n_steps=3).explain(x, target=1)
    w = model.weight.detach().numpy()[1]
    np.testing.assert_allclose(exp.values, w * (x.numpy() - 0.5), rtol=1e-12)
    np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-12)


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("stdev", [0.0, 0.3])
def test_gradient_shap_matches_captum_with_the_same_seed(net, stdev):
    model, x = _net(net)
    background = _inputs(tuple(x.shape[1:]), n=12, seed=11)
    exp = pt.GradientShap(model, background, n_samples=7, stdev=stdev, random_state=5).explain(
        x, target=TARGET
    )
    np.random.seed(5)  # noqa: NPY002 (captum draws from the global RandomState)
    torch.manual_seed(5)
    ref = _captum("GradientShap")(model).attribute(
        x, baselines=background, target=_tt(), n_samples=7, stdevs=stdev
    )
    np.testing.assert_allclose(exp.values, ref.detach().numpy(), **TOL)
    assert exp.std_errors is not None and exp.std_errors.shape == exp.values.shape


@pytest.mark.parametrize("batch_size", [None, 3, 1000])
def test_gradient_shap_output_and_base_values_whatever_the_passes(batch_size):
    # f(x) and the mean of f over the background come from one sweep over both;
    # batch_size=3 makes a pass straddle the inputs and the background
    model, x = _net("cnn")
    bg = _inputs((2, 8, 8), n=12, seed=11)
    exp = pt.GradientShap(model, bg, n_samples=4, random_state=0, batch_size=batch_size).explain(
        x, target=TARGET
    )
    with torch.no_grad():
        out, out_bg = model(x).numpy(), model(bg).numpy()
    rows = np.arange(len(TARGET))
    np.testing.assert_allclose(exp.output, out[rows, TARGET], rtol=1e-12)
    np.testing.assert_allclose(exp.base_values, out_bg.mean(axis=0)[TARGET], rtol=1e-12)
    gap = exp.values.reshape(5, -1).sum(axis=1) - (exp.output - exp.base_values)
    np.testing.assert_allclose(exp.diagnostics["delta"], gap, rtol=1e-9, atol=1e-12)
    ref = pt.GradientShap(model, bg, n_samples=4, random_state=0).explain(x, target=TARGET)
    np.testing.assert_allclose(exp.values, ref.values, rtol=1e-12, atol=1e-15)


def test_gradient_shap_base_values_of_a_one_output_model():
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 1)).double()
    x, bg = _inputs((6,), n=3), _inputs((6,), n=4, seed=2)
    exp = pt.GradientShap(model, bg, random_state=0, batch_size=2).explain(x)
    with torch.no_grad():
        np.testing.assert_allclose(exp.output, model(x)[:, 0].numpy(), rtol=1e-12)
        np.testing.assert_allclose(exp.base_values, np.full(3, model(bg).mean().item()))


def test_gradient_shap_reuses_the_background_mean_only_while_nothing_changes():
    model, x = _net("cnn")
    bg = _inputs((2, 8, 8), n=12, seed=11).numpy().copy()
    gs = pt.GradientShap(model, bg, n_samples=4, random_state=0)

    def fresh():
        return pt.GradientShap(model, bg.copy(), n_samples=4, random_state=0).explain(
            x, target=TARGET
        )

    rows: list[int] = []
    h = model.register_forward_pre_hook(lambda m, a: rows.append(a[0].shape[0]))
    first = gs.explain(x, target=TARGET)
    n_first = sum(rows)
    rows.clear()
    again = gs.explain(x, target=TARGET)
    h.remove()
    assert n_first - sum(rows) == 12  # the second call skips the 12-row background sweep
    for name in ("values", "base_values", "output", "std_errors"):
        assert getattr(again, name).tobytes() == getattr(first, name).tobytes()
    # weights edited through .data (no version bump), background rows other than the
    # probed first one edited in place, and a hook that changes the output: each one
    # recomputes the mean
    edits = [
        lambda: next(model.parameters()).data.mul_(1.5),
        lambda: bg[1:].__imul__(0.5),
        lambda: model.register_forward_hook(lambda m, a, out: 2.0 * out),
    ]
    before = first.base_values
    for edit in edits:
        edit()
        got = gs.explain(x, target=TARGET)
        ref = fresh()
        np.testing.assert_array_equal(got.base_values, ref.base_values)
        np.testing.assert_array_equal(got.values, ref.values)
        assert not np.allclose(got.base_values, before)
        before = got.base_values


def test_default_pass_size_bounds_a_cpu_pass_by_its_input_numbers():
    from pellucid.torch._base import CPU_MAX_PASS, CPU_PASS_ELEMENTS, pass_size

    assert pass_size(None, torch.zeros(4, 1, 8, 8)) == CPU_MAX_PASS  # 64 numbers a row
    assert pass_size(None, torch.zeros(4, 3, 32, 32)) == CPU_PASS_ELEMENTS // 3072
    assert pass_size(None, torch.zeros(1, 3, 512, 512)) == 1
    assert pass_size(7, torch.zeros(4, 3, 32, 32)) == 7  # an explicit batch_size wins
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        pt.Saliency(nn.Linear(2, 2), batch_size=0)


def test_gradient_shap_same_seed_same_bytes_and_seed_matters():
    model, x = _net("cnn")
    bg = _inputs((2, 8, 8), n=10, seed=1)
    a = pt.GradientShap(model, bg, random_state=3).explain(x, target=0).values
    b = pt.GradientShap(model, bg, random_state=3).explain(x, target=0).values
    c = pt.GradientShap(model, bg, random_state=4).explain(x, target=0).values
    assert a.tobytes() == b.tobytes()
    assert not np.allclose(a, c)


@pytest.mark.parametrize("kind", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_smoothgrad_matches_captum_noise_tunnel(kind):
    model, x = _net("cnn")
    exp = pt.SmoothGrad(model, n_samples=6, stdev=0.2, kind=kind, random_state=2).explain(
        x, target=TARGET
    )
    torch.manual_seed(2)
    nt = _captum("NoiseTunnel")(_captum("Saliency")(model))
    ref = nt.attribute(x, nt_type=kind, nt_samples=6, stdevs=0.2, target=_tt(), abs=False)
    np.testing.assert_allclose(exp.values, ref.detach().numpy(), **TOL)


def test_smoothgrad_noise_scales_with_the_input_range():
    model, x = _net("mlp")
    a = pt.SmoothGrad(model, noise_level=0.15, random_state=0).explain(x, target=0).values
    b = pt.SmoothGrad(model, noise_level=0.15, random_state=0).explain(10 * x, target=0).values
    grad = pt.Saliency(model, mode="gradient").explain(x, target=0).values
    assert not np.allclose(a, grad)  # noise did something
    assert np.isfinite(b).all()


@pytest.mark.parametrize("net", list(NETS))
def test_guided_backprop_matches_captum(net):
    model, x = _net(net)
    exp = pt.GuidedBackprop(model).explain(x, target=TARGET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _captum("GuidedBackprop")(model).attribute(x, target=_tt())
    np.testing.assert_allclose(exp.values, ref.detach().numpy(), **TOL)
    plain = pt.Saliency(model, mode="gradient").explain(x, target=TARGET).values
    assert not np.allclose(exp.values, plain)


@pytest.mark.parametrize("layer", ["4", "0"])
@pytest.mark.parametrize("relu", [True, False])
def test_grad_cam_matches_captum(layer, relu):
    from captum.attr import LayerAttribution

    model, x = _net("cnn")
    exp = pt.GradCam(model, layer, relu=relu).explain(x, target=TARGET)
    module = dict(model.named_modules())[layer]
    ref = _captum("LayerGradCam")(model, module).attribute(x, target=_tt(), relu_attributions=relu)
    up = LayerAttribution.interpolate(ref, tuple(x.shape[2:]), "bilinear")
    np.testing.assert_allclose(exp.values, up.expand_as(x).detach().numpy(), **TOL)
    np.testing.assert_allclose(exp.diagnostics["layer_map"], ref[:, 0].detach().numpy(), **TOL)


def test_guided_grad_cam_matches_captum():
    model, x = _net("cnn")
    layer = dict(model.named_modules())["4"]
    exp = pt.GradCam(model, layer, guided=True, interpolation="nearest").explain(x, target=TARGET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _captum("GuidedGradCam")(model, layer).attribute(x, target=_tt())
    np.testing.assert_allclose(exp.values, ref.detach().numpy(), **TOL)


def test_occlusion_matches_captum():
    model, x = _net("cnn")
    exp = pt.Occlusion(model, 0.0, window=(2, 3, 3), strides=(1, 2, 2), batch_size=40).explain(
        x, target=TARGET
    )
    ref = _captum("Occlusion")(model).attribute(
        x, sliding_window_shapes=(2, 3, 3), strides=(1, 2, 2), baselines=0.0, target=_tt()
    )
    np.testing.assert_allclose(exp.values, ref.detach().numpy(), **TOL)


def _state(model):
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        pt.hooks_snapshot(model),
        {n: m.training for n, m in model.named_modules()},
    )


METHODS = {
    "saliency": lambda m: pt.Saliency(m),
    "smoothgrad": lambda m: pt.SmoothGrad(m, n_samples=3, random_state=0),
    "ig": lambda m: pt.IntegratedGradients(m, n_steps=5),
    "gradient_shap": lambda m: pt.GradientShap(m, _inputs((2, 8, 8), n=4), random_state=0),
    "guided": lambda m: pt.GuidedBackprop(m),
    "grad_cam": lambda m: pt.GradCam(m, guided=True),
    "occlusion": lambda m: pt.Occlusion(m, window=(2, 4, 4), strides=(1, 4, 4)),
    "lrp": lambda m: pt.Lrp(m),
}


@pytest.mark.parametrize("name", list(METHODS))
def test_model_unchanged_and_weights_matter(name):
    model = cnn().train()
    x = _inputs((2, 8, 8))
    params, hooks, training = _state(model)
    a = METHODS[name](model).explain(x, target=1)
    for k, v in model.state_dict().items():
        assert torch.equal(v, params[k]), k
    assert pt.hooks_snapshot(model) == hooks
    assert {n: m.training for n, m in model.named_modules()} == training
    assert all(p.grad is None for p in model.parameters())
    # sanity check of Adebayo et al. (2018): other weights, other attributions
    b = METHODS[name](cnn(seed=9)).explain(x, target=1)
    corr = np.corrcoef(a.values.ravel(), b.values.ravel())[0, 1]
    assert abs(corr) < 0.95, corr
    assert a.values.shape == tuple(x.shape) and a.method


def test_hooks_removed_after_an_error():
    model = cnn()
    hooks = pt.hooks_snapshot(model)
    with pytest.raises(ValueError, match="out of range"):
        pt.GuidedBackprop(model).explain(_inputs((2, 8, 8)), target=5)
    assert pt.hooks_snapshot(model) == hooks


def test_targets_default_to_the_predicted_class_and_are_validated():
    model, x = _net("mlp")
    exp = pt.Saliency(model).explain(x)
    np.testing.assert_array_equal(exp.diagnostics["target"], model(x).argmax(1).numpy())
    with pytest.raises(ValueError, match="one int per row"):
        pt.Saliency(model).explain(x, target=[0, 1])
    with pytest.raises(ValueError, match="NaN"):
        pt.Saliency(model).explain(np.full((2, 6), np.nan))
    with pytest.raises(ValueError, match="mode must be one of"):
        pt.Saliency(model, mode="absolute")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        pt.Saliency(lambda v: v)


def test_numpy_inputs_follow_the_model_dtype_and_batching_is_invisible():
    model = cnn().float()
    x = _inputs((2, 8, 8), n=7).numpy()
    a = pt.IntegratedGradients(model, n_steps=8, batch_size=3).explain(x, target=2)
    b = pt.IntegratedGradients(model, n_steps=8, batch_size=1000).explain(x, target=2)
    assert a.values.dtype == np.float32
    np.testing.assert_allclose(a.values, b.values, rtol=1e-4, atol=1e-6)


def test_bfloat16_model_runs():
    model = cnn().to(torch.bfloat16)
    x = _inputs((2, 8, 8)).numpy()
    for method in (pt.Saliency(model), pt.Lrp(model), pt.IntegratedGradients(model, n_steps=4)):
        exp = method.explain(x, target=0)
        assert exp.values.dtype == np.float32 and np.isfinite(exp.values).all()
    ref = pt.Saliency(cnn()).explain(x, target=0).values
    got = pt.Saliency(model).explain(x, target=0).values
    assert np.corrcoef(ref.ravel(), got.ravel())[0, 1] > 0.95


def test_pellucid_names_and_registry():
    assert pellucid.Lrp is pt.Lrp and pellucid.GradCam is pt.GradCam
    names = pellucid.available_methods(inputs="torch")
    assert set(names) == {
        "saliency",
        "smoothgrad",
        "integrated_gradients",
        "gradient_shap",
        "guided_backprop",
        "grad_cam",
        "occlusion",
        "lrp",
    }
    for n in names:
        assert pellucid.get_method(n).method == n


def test_import_pellucid_does_not_import_torch():
    code = "import sys, pellucid; pellucid.available_methods(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_digits_cnn_trains_and_explains():
    model = pt.digits_cnn(random_state=0)
    images, labels = pt.digits_images()
    with torch.no_grad():
        acc = (model(images[1400:]).argmax(1) == labels[1400:]).float().mean().item()
    assert acc > 0.85
    again = pt.digits_cnn(random_state=0)
    for p, q in zip(model.parameters(), again.parameters(), strict=True):
        assert torch.equal(p, q)
    exp = pt.Lrp(model).explain(images[1400:1404], target=labels[1400:1404].numpy())
    assert exp.values.shape == (4, 1, 8, 8)
    assert exp.data is not None and exp.data.shape == (4, 1, 8, 8)


def test_bad_options_are_clear_errors():
    model, x = _net("cnn")
    with pytest.raises(ValueError, match="channel axis and spatial axes"):
        pt.GradCam(model).explain(x.reshape(5, -1)[:, :6])
    with pytest.raises(KeyError, match="No layer named 'conv9'"):
        pt.GradCam(model, "conv9")
    with pytest.raises(ValueError, match="window"):
        pt.Occlusion(model, window=(2, 9, 9)).explain(x, target=0)
    with pytest.raises(ValueError, match="one entry per input axis"):
        pt.Occlusion(model, window=(3, 3)).explain(x, target=0)
    with pytest.raises(ValueError, match="baselines must be a scalar"):
        pt.IntegratedGradients(model, np.zeros((3, 2, 8, 8))).explain(x, target=0)
    with pytest.raises(ValueError, match=r"baselines must have shape \(k, 2, 8, 8\)"):
        pt.GradientShap(model, np.zeros((4, 2, 8))).explain(x, target=0)
    with pytest.raises(ValueError, match="rule must be one of"):
        pt.IntegratedGradients(model, rule="simpson")
    with pytest.raises(ValueError, match="Riemann rules need n_steps >= 2"):
        pt.IntegratedGradients(model, n_steps=1, rule="riemann_left")
    with pytest.raises(TypeError, match="unexpected keyword"):
        pt.Saliency(model).explain(x, target=0, steps=3)


def test_integrated_gradients_per_row_baselines():
    model, x = _net("mlp")
    b = _inputs((6,), n=5, seed=8)
    per_row = pt.IntegratedGradients(model, n_steps=16).explain(x, target=1, baselines=b)
    for i in (0, 3):
        one = pt.IntegratedGradients(model, b[i], n_steps=16).explain(x[i : i + 1], target=1)
        np.testing.assert_allclose(per_row.values[i], one.values[0], rtol=1e-12)


def test_cudnn_is_deterministic_while_explaining_on_cuda_and_restored_after():
    from pellucid.torch._base import deterministic_cudnn

    cudnn, cuda = torch.backends.cudnn, torch.device("cuda")
    saved = cudnn.deterministic, cudnn.benchmark
    cudnn.deterministic, cudnn.benchmark = False, True
    try:
        with deterministic_cudnn(torch.device("cpu")):
            assert (cudnn.deterministic, cudnn.benchmark) == (False, True)
        # two overlapping explanations (threads): the first out leaves them set
        first, second = deterministic_cudnn(cuda), deterministic_cudnn(cuda)
        first.__enter__()
        second.__enter__()
        assert (cudnn.deterministic, cudnn.benchmark) == (True, False)
        first.__exit__(None, None, None)
        assert (cudnn.deterministic, cudnn.benchmark) == (True, False)
        second.__exit__(None, None, None)
        assert (cudnn.deterministic, cudnn.benchmark) == (False, True)
        with pytest.raises(KeyError), deterministic_cudnn(cuda):
            raise KeyError("boom")
        assert (cudnn.deterministic, cudnn.benchmark) == (False, True)
    finally:
        cudnn.deterministic, cudnn.benchmark = saved


def test_read_only_arrays_are_taken():
    # Explanation fields are read-only; torch.as_tensor warns on such arrays (once per
    # process, so this fails on that bug when it is the first to meet it)
    model, x = _net("mlp")
    arr, target, baseline = x.numpy().copy(), TARGET.copy(), np.full((1, 6), 0.1)
    for a in (arr, target, baseline):
        a.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exp = pt.IntegratedGradients(model, baseline, n_steps=8).explain(arr, target=target)
    ref = pt.IntegratedGradients(model, 0.1, n_steps=8).explain(x, target=TARGET)
    np.testing.assert_array_equal(exp.values, ref.values)
