"""LRP: every rule and composite against zennit (float64, relevance starts at the
target logit), conservation, canonizers, and the model left untouched."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import pellucid.torch as pt  # noqa: E402
from torch_models import cnn, mlp, resnet_like, zennit  # noqa: E402

nn = torch.nn
TOL = dict(rtol=1e-6, atol=1e-6)
# zennit makes a merged BatchNorm compute x / sqrt(1 + eps), not x; with eps this small
# the difference (relative eps / 2) is far below the tolerance
BN_EPS = 1e-12


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _inputs(shape, n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=g, dtype=torch.float64)


def _zennit_relevance(model, composite, x, target):
    z = zennit()
    from zennit.attribution import Gradient

    onehot = torch.eye(3, dtype=x.dtype)[target]
    with Gradient(model, composite) as attributor:
        _, rel = attributor(x, attr_output=lambda out: onehot * out)
    del z
    return rel.detach().numpy()


def _zennit_rule(name, low=-3.0, high=3.0):
    zennit()
    from zennit import rules as zr

    return {
        "zero": zr.Epsilon(0.0),
        "epsilon": zr.Epsilon(1e-6),
        "gamma": zr.Gamma(0.25),
        "alpha1_beta0": zr.AlphaBeta(1.0, 0.0),
        "alpha2_beta1": zr.AlphaBeta(2.0, 1.0),
        "zplus": zr.ZPlus(),
        "zbox": zr.ZBox(low, high),
        "flat": zr.Flat(),
        "wsquare": zr.WSquare(),
    }[name]


def _zennit_composite(name, canonizers, low=-3.0, high=3.0):
    zennit()
    from zennit import composites as zc
    from zennit import types as zt

    if name in ("epsilon_plus", "epsilon_alpha2_beta1", "epsilon_plus_flat"):
        cls = {
            "epsilon_plus": zc.EpsilonPlus,
            "epsilon_alpha2_beta1": zc.EpsilonAlpha2Beta1,
            "epsilon_plus_flat": zc.EpsilonPlusFlat,
        }[name]
        return cls(canonizers=canonizers)
    if name == "epsilon_gamma_box":
        return zc.EpsilonGammaBox(low=low, high=high, canonizers=canonizers)
    rule = _zennit_rule(name, low, high)
    return zc.LayerMapComposite(zc.layer_map_base() + [(zt.Linear, rule)], canonizers=canonizers)


def _merge_bn():
    zennit()
    from zennit.canonizers import SequentialMergeBatchNorm

    return [SequentialMergeBatchNorm()]


RULES = [
    "zero",
    "epsilon",
    "gamma",
    "alpha1_beta0",
    "alpha2_beta1",
    "zplus",
    "zbox",
    "flat",
    "wsquare",
]
COMPOSITES = ["epsilon_plus", "epsilon_gamma_box", "epsilon_alpha2_beta1", "epsilon_plus_flat"]


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("net", ["mlp", "cnn"])
def test_rule_matches_zennit(name, net):
    model = mlp() if net == "mlp" else cnn(bn_eps=BN_EPS)
    x = _inputs((6,) if net == "mlp" else (2, 8, 8))
    target = np.array([0, 1, 2, 1, 0])
    ours = pt.Lrp(model, rule=name, low=-3.0, high=3.0).explain(x, target=target)
    ref = _zennit_relevance(model, _zennit_composite(name, _merge_bn()), x, target)
    np.testing.assert_allclose(ours.values, ref, **TOL)
    assert np.abs(ref).sum() > 0


@pytest.mark.parametrize("name", COMPOSITES)
@pytest.mark.parametrize("net", ["mlp", "cnn"])
def test_composite_matches_zennit(name, net):
    model = mlp() if net == "mlp" else cnn(bn_eps=BN_EPS)
    x = _inputs((6,) if net == "mlp" else (2, 8, 8), seed=3)
    target = np.array([2, 1, 0, 0, 1])
    ours = pt.Lrp(model, composite=name, low=-3.0, high=3.0).explain(x, target=target)
    ref = _zennit_relevance(model, _zennit_composite(name, _merge_bn()), x, target)
    np.testing.assert_allclose(ours.values, ref, **TOL)


@pytest.mark.parametrize("name", ["epsilon_plus", "epsilon_gamma_box"])
def test_residual_blocks_match_zennit_resnet_canonizer(name):
    zennit()
    from zennit.torchvision import ResNetCanonizer

    model = resnet_like(bn_eps=BN_EPS)
    x = _inputs((2, 8, 8), seed=4)
    target = np.array([0, 2, 1, 1, 0])
    ours = pt.Lrp(model, composite=name, low=-3.0, high=3.0).explain(x, target=target)
    ref = _zennit_relevance(model, _zennit_composite(name, [ResNetCanonizer()]), x, target)
    np.testing.assert_allclose(ours.values, ref, **TOL)


def test_lrp0_conserves_the_logit_on_a_bias_free_network():
    model = mlp(bias=False)
    x = _inputs((6,), n=20)
    exp = pt.Lrp(model, rule="zero").explain(x, target=1)
    logits = model(x).detach().numpy()[:, 1]
    np.testing.assert_allclose(exp.values.sum(axis=1), logits, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(exp.output, logits, rtol=1e-12)
    np.testing.assert_allclose(exp.additivity_gap, 0.0, atol=1e-10)


def test_lrp0_with_biases_does_not_conserve():
    # the bias absorbs relevance, so the conservation check above can fail
    model = mlp(bias=True)
    exp = pt.Lrp(model, rule="zero").explain(_inputs((6,), n=20), target=1)
    assert np.abs(exp.additivity_gap).max() > 1e-3


@pytest.mark.parametrize("make", [cnn, resnet_like])
def test_canonizers_leave_the_output_unchanged_and_are_undone(make):
    from pellucid.torch.canonizers import canonize

    model = make()
    x = _inputs((2, 8, 8), n=7, seed=5)
    before = model(x).detach()
    params = {k: v.clone() for k, v in model.state_dict().items()}
    names = [n for n, _ in model.named_modules()]
    handle = canonize(model, x[:1], "auto")
    assert handle.params, "some BatchNorm should have been merged"
    merged = model(x).detach()
    np.testing.assert_allclose(merged.numpy(), before.numpy(), rtol=1e-12, atol=1e-12)
    handle.remove()
    assert [n for n, _ in model.named_modules()] == names
    for k, v in model.state_dict().items():
        assert torch.equal(v, params[k]), k
    assert all("forward" not in m.__dict__ for m in model.modules())
    np.testing.assert_array_equal(model(x).detach().numpy(), before.numpy())


def test_merged_batchnorm_gives_other_relevance_than_passing_it():
    model = cnn()
    x = _inputs((2, 8, 8))
    a = pt.Lrp(model, rule="epsilon").explain(x, target=0).values
    b = pt.Lrp(model, rule="epsilon", canonizers=()).explain(x, target=0).values
    assert np.abs(a - b).max() > 1e-3


def _state(model):
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        pt.hooks_snapshot(model),
        {n: m.training for n, m in model.named_modules()},
        [p.requires_grad for p in model.parameters()],
    )


def _same_state(model, state):
    params, hooks, training, grads = state
    for k, v in model.state_dict().items():
        assert torch.equal(v, params[k]), k
    assert pt.hooks_snapshot(model) == hooks
    assert {n: m.training for n, m in model.named_modules()} == training
    assert [p.requires_grad for p in model.parameters()] == grads
    assert all("forward" not in m.__dict__ for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("name", COMPOSITES)
def test_model_unchanged_after_lrp(name):
    model = resnet_like().train()  # training mode must survive, and running stats too
    state = _state(model)
    pt.Lrp(model, composite=name, low=-3, high=3).explain(_inputs((2, 8, 8)), target=0)
    _same_state(model, state)


def test_model_unchanged_after_an_error():
    model = cnn()
    state = _state(model)
    with pytest.raises(ValueError, match="out of range"):
        pt.Lrp(model).explain(_inputs((2, 8, 8)), target=7)
    _same_state(model, state)


def test_layer_without_rule_is_an_error():
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2)).double()
    state = _state(model)
    with pytest.raises(ValueError, match="no rule for layer '1'"):
        pt.Lrp(model).explain(torch.randn(3, 4, dtype=torch.float64), target=0)
    _same_state(model, state)


def test_inplace_relu_gets_the_pass_rule():
    torch.manual_seed(0)
    layers = [nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 3)]
    plain = nn.Sequential(*layers).double()
    inplace = nn.Sequential(layers[0], nn.ReLU(inplace=True), layers[2]).double()
    x = _inputs((6,))
    for rule in ("flat", "epsilon"):
        a = pt.Lrp(plain, rule=rule).explain(x, target=0).values
        b = pt.Lrp(inplace, rule=rule).explain(x, target=0).values
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_unknown_names_are_clear_errors():
    model = mlp()
    with pytest.raises(ValueError, match="Unknown LRP rule 'epsilonn'"):
        pt.Lrp(model, rule="epsilonn")
    with pytest.raises(ValueError, match="Unknown composite"):
        pt.Lrp(model, composite="plus")
    with pytest.raises(ValueError, match="low= and high="):
        pt.Lrp(model, composite="epsilon_gamma_box")
    with pytest.raises(ValueError, match="not both"):
        pt.Lrp(model, rule="epsilon", composite="epsilon_plus")


def test_randomised_weights_change_lrp():
    model = cnn()
    x = _inputs((2, 8, 8))
    a = pt.Lrp(model).explain(x, target=0).values
    b = pt.Lrp(cnn(seed=9)).explain(x, target=0).values
    corr = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    assert abs(corr) < 0.9


def test_internal_batching_and_float32():
    model = cnn()
    x = _inputs((2, 8, 8), n=9)
    full = pt.Lrp(model).explain(x, target=1).values
    small = pt.Lrp(model, batch_size=2).explain(x, target=1).values
    np.testing.assert_allclose(small, full, rtol=1e-12, atol=1e-14)
    m32 = cnn().float()
    v32 = pt.Lrp(m32).explain(x.float(), target=1)
    assert v32.values.dtype == np.float32
    np.testing.assert_allclose(v32.values, full, rtol=1e-3, atol=1e-4)


def test_residual_canonizer_changes_relevance():
    # without a Sum module, the residual addition copies relevance to both branches
    model = resnet_like()
    x = _inputs((2, 8, 8))
    a = pt.Lrp(model, composite="epsilon_plus").explain(x, target=0).values
    b = pt.Lrp(model, composite="epsilon_plus", canonizers=["merge_batchnorm"]).explain(x, target=0)
    assert np.abs(a - b.values).max() > 1e-4


def _sequence_net():
    # Conv1d, LeakyReLU, average pooling and eval-mode dropout on (3 channels, 16 steps)
    torch.manual_seed(2)
    return (
        nn.Sequential(
            nn.Conv1d(3, 5, 3, padding=1),
            nn.LeakyReLU(0.1),
            nn.AvgPool1d(2),
            nn.Conv1d(5, 4, 3),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Flatten(),
            nn.Linear(24, 3),
        )
        .double()
        .eval()
    )


@pytest.mark.parametrize("name", ["epsilon_plus", "epsilon_alpha2_beta1", "epsilon_plus_flat"])
def test_sequence_model_matches_zennit(name):
    model = _sequence_net()
    x = _inputs((3, 16), seed=6)
    target = np.array([1, 0, 2, 2, 1])
    ours = pt.Lrp(model, composite=name).explain(x, target=target)
    ref = _zennit_relevance(model, _zennit_composite(name, []), x, target)
    np.testing.assert_allclose(ours.values, ref, **TOL)
    assert ours.values.shape == (5, 3, 16)
