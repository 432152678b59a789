"""The report's pictures: a readable title, the target named on the axes, PD and ALE of
one feature on one x range."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("jinja2")

from _report_data import full_results  # noqa: E402
from pellucid import Model, plots  # noqa: E402
from pellucid.reporting._render import named, report_title, sections  # noqa: E402


def _xy(n: int = 80, name: str = "default"):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = pd.Series((X["a"] + 0.3 * rng.normal(size=n) > 0).astype(int), name=name)
    return X, y


def test_title_names_the_target_and_the_model_with_its_size():
    xgb = pytest.importorskip("xgboost")
    X, y = _xy()
    model = xgb.XGBClassifier(n_estimators=7, max_depth=2).fit(X, y)
    assert report_title(Model(model), y, "binary") == "Default risk: XGBoost, 7 trees"
    booster = model.get_booster()  # a saved model read back is a bare Booster
    assert report_title(Model(booster), "default", "binary") == "Default risk: XGBoost, 7 trees"


def test_title_for_a_regression_a_forest_and_an_unnamed_target():
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LogisticRegression

    X, y = _xy(name="sale_price")
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y.astype(float))
    assert report_title(Model(forest), y, "regression") == (
        "Predicted sale price: RandomForestRegressor, 5 trees"
    )
    linear = LogisticRegression().fit(X, y)
    assert report_title(Model(linear), y.to_numpy(), "binary") == (
        "Model report: LogisticRegression"
    )


def test_report_uses_the_readable_title():
    from sklearn.linear_model import LogisticRegression

    import pellucid

    X, y = _xy()
    rep = pellucid.report(
        LogisticRegression().fit(X, y), X, y, methods=(), settings={"importance_rows": 40}
    )
    assert rep.results.title == "Default risk: LogisticRegression"
    assert "<title>Default risk: LogisticRegression</title>" in rep.html


def test_report_names_the_target_on_the_effects_and_shares_their_x_range(monkeypatch):
    res = full_results()
    seen: dict[str, list] = {"pd": [], "ale": []}
    real_pd, real_ale = plots.partial_dependence, plots.ale

    def spy(kind, real):
        def draw(result, *args, **kwargs):
            ax = real(result, *args, **kwargs)
            seen[kind].append((result.features[0], tuple(ax.get_xlim()), ax.get_ylabel()))
            return ax

        return draw

    monkeypatch.setattr(plots, "partial_dependence", spy("pd", real_pd))
    monkeypatch.setattr(plots, "ale", spy("ale", real_ale))
    sections(res)
    pd_by = {f: (lim, lab) for f, lim, lab in seen["pd"]}
    ale_by = {f: (lim, lab) for f, lim, lab in seen["ale"]}
    both = set(pd_by) & set(ale_by)
    assert both
    for f in both:
        np.testing.assert_allclose(pd_by[f][0], ale_by[f][0])
    target = res.overview.target.name
    assert all(f"P({target}" in lab for _, lab in pd_by.values())


def test_named_leaves_results_it_cannot_label_as_they_are():
    from pellucid import Explanation
    from pellucid.reporting import LocalResult

    res = full_results()
    odd = Explanation(np.ones((2, 3)), feature_names=("a", "b", "c"))  # two rows, one id
    res.local = [LocalResult(0, "chosen row", 0.5, shap=odd)]
    assert named(res).local[0].shap is odd
