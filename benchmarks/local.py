"""LIME vs the lime package, Anchors vs alibi's AnchorTabular, side by side.

Run from the repository root:

    PYTHONPATH=src .venv/bin/python benchmarks/local.py [--rows 10] [--repeats 3]

Data: scikit-learn's bundled breast-cancer table (30 numeric features, the
30-feature random forest the LIME goal names), split 70/30 with a fixed seed.
Model: RandomForestClassifier(n_estimators=100, random_state=0); a
LogisticRegression is also timed for LIME, where the model is fast and
the explainer's own overhead dominates.

Every model call goes through a wrapper that counts rows and seconds, so
"overhead" is the explainer's time less the model's own time.

alibi pins numpy < 2, so it runs in its own virtualenv (created on first
use at $ALIBI_VENV, default /work/venvs/alibi, with python3.11 and
``pip install "numpy<2" alibi==0.9.6 click scikit-learn==<same as here>``)
as a subprocess that retrains the identical forest (same data, parameters,
seed and scikit-learn version; the script checks the predictions agree) and
reports its timings, model rows and rules as JSON. Held-out precision and
coverage of every rule are computed here, the same way for both libraries.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

ALIBI_VENV = Path(os.environ.get("ALIBI_VENV", "/work/venvs/alibi"))
SETTINGS = {"threshold": 0.95, "delta": 0.1, "tau": 0.15, "beam_size": 2, "batch_size": 100}


class Timed:
    """Wrap a predict function; count calls, rows and seconds."""

    def __init__(self, f):
        self.f = f
        self.reset()

    def reset(self):
        self.seconds, self.rows, self.calls = 0.0, 0, 0

    def __call__(self, X):
        t = time.perf_counter()
        out = self.f(np.asarray(X, dtype=float))
        self.seconds += time.perf_counter() - t
        self.rows += len(X)
        self.calls += 1
        return out


def load():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    return Xtr.reset_index(drop=True), Xte.reset_index(drop=True), ytr.to_numpy(), yte


def forest(Xtr, ytr):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, random_state=0).fit(Xtr.to_numpy(), ytr)


# ---------------------------------------------------------------- LIME


def bench_lime(model, Xtr, Xte, rows, repeats, label):
    from lime.lime_tabular import LimeTabularExplainer

    import pellucid
    from pellucid.local import Lime

    timed = Timed(model.predict_proba)
    pel = Lime(
        pellucid.Model(timed, task="binary", classes=[0, 1]), Xtr, max_features=10, num_samples=5000
    )
    ref = LimeTabularExplainer(
        Xtr.to_numpy(), mode="classification", discretizer="quartile", random_state=0
    )
    X = Xte.iloc[:rows]
    res = {"pellucid": [], "lime": []}
    for rep in range(repeats):
        timed.reset()
        t = time.perf_counter()
        exp = pel.with_settings(random_state=rep).explain(X)
        total = time.perf_counter() - t
        res["pellucid"].append((total / rows, timed.seconds / rows))
        timed.reset()
        t = time.perf_counter()
        for r in X.to_numpy():
            # Both classes, as pellucid explains every class probability.
            ref.explain_instance(r, timed, labels=(0, 1), num_features=10, num_samples=5000)
        total = time.perf_counter() - t
        res["lime"].append((total / rows, timed.seconds / rows))
    med = {k: np.median(np.array(v), axis=0) for k, v in res.items()}
    over = {k: m[0] - m[1] for k, m in med.items()}
    print(f"\nLIME, {label}, {rows} rows x {repeats} repeats, 5000 samples, 10 features (median)")
    print(f"{'':10s} {'s/expl':>9s} {'model s':>9s} {'overhead':>9s}")
    for k, m in med.items():
        print(f"{k:10s} {m[0]:9.4f} {m[1]:9.4f} {over[k]:9.4f}")
    ratio = over["pellucid"] / over["lime"]
    print(f"overhead ratio pellucid/lime = {ratio:.3f}  (goal <= 0.2)")
    print(f"median fidelity (class 1): {np.median(exp.diagnostics['fidelity'][:, 1]):.3f}")
    return {"per_expl": {k: list(m) for k, m in med.items()}, "overhead_ratio": ratio}


# ---------------------------------------------------------------- Anchors

ALIBI_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split
    from alibi.explainers import AnchorTabular

    args = json.loads(sys.argv[1])
    data = load_breast_cancer(as_frame=True)
    Xtr, Xte, ytr, yte = train_test_split(data.data, data.target, test_size=0.3, random_state=0)
    Xtr, Xte, ytr = Xtr.to_numpy(), Xte.to_numpy(), ytr.to_numpy()
    rf = RandomForestClassifier(n_estimators=100, random_state=0).fit(Xtr, ytr)
    stats = {"seconds": 0.0, "rows": 0}
    def predict(X):
        t = time.perf_counter()
        out = rf.predict(X)
        stats["seconds"] += time.perf_counter() - t
        stats["rows"] += len(X)
        return out
    explainer = AnchorTabular(predict, list(data.feature_names), seed=0)
    explainer.fit(Xtr, disc_perc=(25, 50, 75))
    out = {"check": float(rf.predict_proba(Xte).sum()), "rows": []}
    s = args["settings"]
    for i in range(args["rows"]):
        np.random.seed(i)
        stats["seconds"], stats["rows"] = 0.0, 0
        t = time.perf_counter()
        e = explainer.explain(Xte[i], threshold=s["threshold"], delta=s["delta"], tau=s["tau"],
                              batch_size=s["batch_size"], beam_size=s["beam_size"],
                              coverage_samples=10000)
        total = time.perf_counter() - t
        out["rows"].append({"seconds": total, "model_seconds": stats["seconds"],
                            "model_rows": stats["rows"], "rule": list(e.anchor),
                            "precision": float(e.precision), "coverage": float(e.coverage)})
    print(json.dumps(out))
    """
)


def alibi_python() -> Path:
    """The alibi virtualenv's interpreter, creating the venv on first use."""
    python = ALIBI_VENV / "bin" / "python"
    if not python.exists():
        import sklearn

        subprocess.run(["python3.11", "-m", "venv", str(ALIBI_VENV)], check=True)
        subprocess.run(
            [
                str(ALIBI_VENV / "bin" / "pip"),
                "install",
                "-q",
                "numpy<2",
                "alibi==0.9.6",
                "click",
                f"scikit-learn=={sklearn.__version__}",
            ],
            check=True,
        )
    return python


def in_alibi(script: str, args: dict) -> dict:
    """Run ``script`` in alibi's virtualenv with ``args`` as JSON; its last line, parsed."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(script)
    try:
        proc = subprocess.run(
            [str(alibi_python()), fh.name, json.dumps(args)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    finally:
        os.unlink(fh.name)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_alibi(rows):
    return in_alibi(ALIBI_SCRIPT, {"rows": rows, "settings": SETTINGS})


_RULE = re.compile(
    r"^(?:(?P<lo>-?[\d.e+-]+) < )?(?P<name>.+?) (?P<op><=|>|<|>=|=) (?P<v>-?[\d.e+-]+)$"
)


def alibi_mask(rule, X):
    """Rows of X where an alibi anchor (list of 'a <= v', 'v < a <= w', 'a > v') holds."""
    mask = np.ones(len(X), dtype=bool)
    for cond in rule:
        m = _RULE.match(cond.strip())
        if m is None:
            raise ValueError(f"Cannot parse alibi condition {cond!r}")
        col = X[m["name"]].to_numpy()
        v = float(m["v"])
        mask &= {"<=": col <= v, ">": col > v, "<": col < v, ">=": col >= v, "=": col == v}[m["op"]]
        if m["lo"] is not None:
            mask &= col > float(m["lo"])
    return mask


def held_out(mask, pred_te, target):
    n = int(mask.sum())
    return (float((pred_te[mask] == target).mean()) if n else float("nan")), n / len(mask)


def bench_anchors(rf, Xtr, Xte, rows, skip_alibi):
    import pellucid
    from pellucid.local import Anchors

    timed = Timed(rf.predict_proba)
    explainer = Anchors(pellucid.Model(timed, task="binary", classes=[0, 1]), Xtr, **SETTINGS)
    pred_te = rf.predict(Xte.to_numpy())
    pel = []
    for i in range(rows):
        timed.reset()
        t = time.perf_counter()
        a = explainer.with_settings(random_state=i).explain(Xte.iloc[[i]])
        total = time.perf_counter() - t
        prec, cov = held_out(a.covers(Xte), pred_te, a.prediction)
        pel.append((total, timed.seconds, timed.rows, timed.calls, a.precision, prec, cov, a.rule))
    # All rows in one call: the searches share batched model calls.
    timed.reset()
    t = time.perf_counter()
    batch = explainer.with_settings(random_state=0).explain_rows(Xte.iloc[:rows])
    batch_total = time.perf_counter() - t
    batch_model = timed.seconds
    batch_prec = [held_out(a.covers(Xte), pred_te, a.prediction)[0] for a in batch]

    print(f"\nAnchors, random forest (100 trees), {rows} held-out rows, settings {SETTINGS}")
    cols = f"{'':22s} {'s/expl':>8s} {'model s':>8s} {'rows':>8s} {'calls':>6s} {'prec':>6s} {'held-out prec':>13s} {'cov':>6s}"
    print(cols)
    p = np.array([r[:7] for r in pel], dtype=float)
    med_p = np.median(p, axis=0)
    print(
        f"{'pellucid explain':22s} {med_p[0]:8.3f} {med_p[1]:8.3f} {med_p[2]:8.0f} {med_p[3]:6.0f} "
        f"{np.mean(p[:, 4]):6.3f} {np.nanmean(p[:, 5]):13.3f} {np.mean(p[:, 6]):6.3f}"
    )
    print(
        f"{'pellucid explain_rows':22s} {batch_total / rows:8.3f} {batch_model / rows:8.3f} "
        f"{timed.rows / rows:8.0f} {timed.calls:6d} {np.mean([a.precision for a in batch]):6.3f} "
        f"{np.nanmean(batch_prec):13.3f}"
    )
    out = {"pellucid": med_p.tolist(), "pellucid_batch_s": batch_total / rows}
    if skip_alibi:
        return out
    ali = run_alibi(rows)
    check = float(rf.predict_proba(Xte.to_numpy()).sum())
    assert abs(ali["check"] - check) < 1e-9, "alibi's venv trained a different forest"
    a_rows = []
    for i, r in enumerate(ali["rows"]):
        target = pred_te[i]
        prec, cov = held_out(alibi_mask(r["rule"], Xte), pred_te, target)
        a_rows.append(
            (r["seconds"], r["model_seconds"], r["model_rows"], r["precision"], prec, cov)
        )
    a = np.array(a_rows, dtype=float)
    med_a = np.median(a, axis=0)
    print(
        f"{'alibi AnchorTabular':22s} {med_a[0]:8.3f} {med_a[1]:8.3f} {med_a[2]:8.0f} {'':6s} "
        f"{np.mean(a[:, 3]):6.3f} {np.nanmean(a[:, 4]):13.3f} {np.mean(a[:, 5]):6.3f}"
    )
    print(f"speed-up, single explain: {med_a[0] / med_p[0]:.1f}x   (goal >= 10x)")
    print(f"speed-up, explain_rows:   {med_a[0] / (batch_total / rows):.1f}x")
    print(f"model rows per explanation: pellucid {med_p[2]:.0f} vs alibi {med_a[2]:.0f}")
    for i in range(rows):
        print(
            f"  row {i}: pellucid [{pel[i][7]}] prec {pel[i][4]:.3f} held-out {pel[i][5]:.3f} | "
            f"alibi {ali['rows'][i]['rule']} prec {a[i, 3]:.3f} held-out {a[i, 4]:.3f}"
        )
    out.update({"alibi": med_a.tolist()})
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-alibi", action="store_true")
    parser.add_argument("--only", choices=["lime", "anchors"], default=None)
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    Xtr, Xte, ytr, _ = load()
    rf = forest(Xtr, ytr)
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}")
    if args.only in (None, "lime"):
        logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        logreg.fit(Xtr.to_numpy(), ytr)
        bench_lime(logreg, Xtr, Xte, args.rows, args.repeats, "logistic regression")
        bench_lime(rf, Xtr, Xte, args.rows, args.repeats, "random forest (100 trees)")
    if args.only in (None, "anchors"):
        bench_anchors(rf, Xtr, Xte, args.rows, args.skip_alibi)


if __name__ == "__main__":
    main()
