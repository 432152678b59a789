"""The "How far to trust these explanations" summary: every method, a few numbers, a reading."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .._data import check_X
from ._common import as_rng, build_explainer, check_rows, explain, method_name, take_rows
from ._faithfulness import deletion, faithfulness_correlation, infidelity, insertion
from ._results import MethodTrust, TrustSummary
from ._robustness import stability
from ._sanity import sanity_check

__all__ = ["read_scores", "trust_summary"]

# Thresholds of the plain-language reading; documented in read_scores.
FAITHFUL_CORR = 0.7
WEAK_CORR = 0.3
STABLE_SEEDS = 0.05
STABLE_INPUT = 0.25
CLOSE_TRUTH = 0.05


def trust_summary(
    model: Any,
    X: Any,
    *,
    methods: Iterable[Any] | None = None,
    data: Any = None,
    y: Any = None,
    output: int | str | None = None,
    truth: np.ndarray | None = None,
    n_rows: int = 20,
    n_background: int = 50,
    sanity: bool = False,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    random_state: Any = 0,
) -> TrustSummary:
    """Faithfulness, stability, ground-truth error (where known) and a reading per method.

    ``methods``: registered names, classes or factories (default: every
    registered tabular attribution method). The first ``n_rows`` rows of X
    are explained with ``n_background`` rows drawn from ``data`` (default X) as
    background, the same rows the metrics remove features with. ``truth``: the true
    attributions of those rows, when known (e.g. a :class:`Problem`'s). With
    ``sanity=True`` the model-randomisation (and, given ``y`` labelling
    ``data``, label-permutation) checks run too; they refit the model.
    Methods that cannot explain the model are listed in ``notes``.
    """
    from .._registry import available

    X = check_rows(X)
    rows = np.arange(min(int(n_rows), X.shape[0]))
    X_sub = take_rows(X, rows)
    if methods is None:
        methods = available(kind="attribution", inputs="tabular")
    options = {method_name(k): v for k, v in (options or {}).items()}  # treeshap: tree_shap
    rng = as_rng(random_state)
    seed = int(rng.integers(0, 2**31 - 1))
    # One background for the explainers and the metrics alike, so removal means the same
    # thing to both (exact SHAP then scores zero infidelity).
    source = X if data is None else check_X(data, name="data")
    idx = np.arange(source.shape[0])
    if source.shape[0] > n_background:
        idx = np.sort(rng.choice(source.shape[0], size=int(n_background), replace=False))
    data = take_rows(source, idx)
    if y is not None:
        y = np.asarray(y)
        if len(y) != source.shape[0]:
            raise ValueError(
                f"y has {len(y)} labels but data has {source.shape[0]} rows: y must label data."
            )
        y = y[idx]
    out_rows: list[MethodTrust] = []
    notes: list[str] = []
    for method in methods:
        name = method_name(method)
        opts = dict(options.get(name, {}))
        try:
            exp = explain(build_explainer(method, model, data, seed, opts), X_sub, seed)
        except (TypeError, ValueError, NotImplementedError) as exc:
            notes.append(f"{name}: not run ({type(exc).__name__}: {exc})")
            continue
        common = {"background": data, "output": output, "n_background": n_background}
        dele = deletion(model, X_sub, exp, random_state=seed, **common)
        ins = insertion(model, X_sub, exp, random_state=seed, **common)
        corr = faithfulness_correlation(model, X_sub, exp, random_state=seed, **common)
        infid = infidelity(model, X_sub, exp, random_state=seed, **common)
        stab = stability(
            method,
            model,
            X_sub,
            data=data,
            seeds=3,
            n_samples=3,
            output=output,
            random_state=seed,
            **opts,
        )
        gt_error = None
        if truth is not None:
            from ._common import select_output

            _, phi = select_output(exp, output)
            t = np.asarray(truth, dtype=float)[rows]
            norm = float(np.linalg.norm(t))
            gt_error = float(np.linalg.norm(phi - t) / (norm if norm > 0 else 1.0))
        sanity_passed = None
        if sanity:
            check = sanity_check(
                method, model, X_sub, data=data, y=y, output=output, random_state=seed, **opts
            )
            sanity_passed = check.passed
        scores = {
            "method": name,
            "deletion_gain": dele.improvement,
            "insertion_gain": ins.improvement,
            "faithfulness_correlation": corr.mean,
            "infidelity": infid.mean,
            "seed_variation": stab.seed_variation_mean if stab.seed_variation is not None else None,
            "sensitivity": stab.sensitivity_mean,
            "ground_truth_error": gt_error,
            "sanity_passed": sanity_passed,
        }
        verdict, reading = read_scores(scores)
        out_rows.append(MethodTrust(**scores, verdict=verdict, reading=reading))  # type: ignore[arg-type]
    params = {
        "n_rows": len(rows),
        "n_background": n_background,
        "random_state": random_state,
        "sanity": sanity,
    }
    return TrustSummary(rows=tuple(out_rows), notes=tuple(notes), params=params)


def _finite(v: float) -> bool:
    return bool(np.isfinite(v))


def _num(v: Any) -> float:
    """A score as a float; missing (None) becomes NaN, which every comparison below rejects."""
    return float("nan") if v is None else float(v)


def read_scores(s: Mapping[str, Any]) -> tuple[str, str]:
    """(verdict, plain-language reading) from one method's scores.

    Faithful: faithfulness correlation >= 0.7 and both deletion and insertion
    beat random orderings; weak: correlation below 0.3 or deletion no better
    than random. Stable: seed variation below 5% and input sensitivity below
    25%. Close to the truth: relative error below 5%. Verdict "trust" needs
    faithful, stable, close (when known) and sanity passed (when run);
    "do not rely on" follows weak faithfulness, a failed sanity check or a
    ground-truth error above 50%; anything else is "use with care".
    """
    parts: list[str] = []
    corr = _num(s.get("faithfulness_correlation"))
    dg, ig = _num(s.get("deletion_gain")), _num(s.get("insertion_gain"))
    faithful = _finite(corr) and corr >= FAITHFUL_CORR and _finite(dg) and dg > 0 and ig > 0
    weak = (_finite(corr) and corr < WEAK_CORR) or (_finite(dg) and dg <= 0)
    if faithful:
        parts.append(
            f"Faithful: the features it ranks highest move the prediction the most "
            f"(correlation {corr:.2f} with the actual change when features are removed; "
            f"removing its top features first moves the prediction {dg:.2f} of the full change "
            f"faster than a random order)."
        )
    elif weak:
        parts.append(
            "Weakly faithful: removing the features it ranks highest changes the prediction "
            "little more than removing random ones"
            + (f" (correlation {corr:.2f})." if _finite(corr) else ".")
        )
    else:
        parts.append(
            "Partly faithful: its ranking tracks what the model does only in part"
            + (f" (correlation {corr:.2f})." if _finite(corr) else ".")
        )
    seeds, sens = _num(s.get("seed_variation")), _num(s.get("sensitivity"))
    stable_seeds = s.get("seed_variation") is None or seeds < STABLE_SEEDS
    stable_input = sens < STABLE_INPUT
    if _finite(seeds):
        if seeds < 1e-12:
            parts.append("Identical across random seeds.")
        elif stable_seeds:
            parts.append(f"Stable across random seeds (they move it by {seeds:.0%}).")
        else:
            parts.append(
                f"Changes between random seeds by {seeds:.0%} of its size: "
                "use more samples before reading small differences."
            )
    if _finite(sens):
        parts.append(
            f"Small input changes move it by up to {sens:.0%}."
            if stable_input
            else f"Sensitive: small input changes move it by up to {sens:.0%}."
        )
    gt = _num(s.get("ground_truth_error"))
    close = s.get("ground_truth_error") is None or gt < CLOSE_TRUTH
    if _finite(gt):
        if gt < 1e-6:
            parts.append("Matches the true Shapley values.")
        else:
            parts.append(f"Differs from the true Shapley values by {gt:.1%} (relative error).")
    sanity = s.get("sanity_passed")
    if sanity is True:
        parts.append("Passes the sanity checks: it changes when the model is randomised.")
    elif sanity is False:
        parts.append("Fails the sanity checks: it barely changes when the model is randomised.")
    if weak or sanity is False or gt > 0.5:
        verdict = "do not rely on"
    elif faithful and stable_seeds and stable_input and close and sanity is not False:
        verdict = "trust"
    else:
        verdict = "use with care"
    return verdict, " ".join(parts)
