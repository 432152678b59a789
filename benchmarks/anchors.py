"""Anchors vs alibi's AnchorTabular: model rows, wall time and held-out precision.

Run from the repository root:

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/anchors.py [--rows 8] [--repeats 3]

Two problems, each a RandomForestClassifier(n_estimators=100, random_state=0):

- ``easy``: 8 standard-normal features, the label is ``x0 > 0 and x1 > -0.5``
  (2,000 training rows, 1,000 held out), so the forest's rules are short;
- ``hard``: scikit-learn's breast-cancer table (30 features), split 70/30
  with seed 0, as in ``benchmarks/local.py``.

Both libraries explain the same held-out rows with the same settings
(threshold 0.95, delta 0.1, tau 0.15, beam size 2, batch 100, quartile bins)
and a different seed per row and repeat. alibi pins numpy < 2, so it runs
in its own virtualenv (``benchmarks/local.py`` creates it) as a subprocess
that builds the identical problem and forest from the same source text (the
script checks that the predictions agree). Every model call on both sides
goes through a wrapper that counts rows, calls and seconds.

Held-out precision of each returned anchor, computed here the same way for
both libraries:

- ``test``: among held-out rows the rule covers, the share the forest gives
  the explained prediction (NaN when it covers none);
- ``fresh``: the same share on 2,000 fresh samples of the perturbation
  distribution conditioned on the anchor (anchored columns copied from a
  random training row the rule covers, the others from another random
  training row), drawn with a fixed seed. alibi reports which training
  rows its rule covers from its own discretiser, so no rule text is parsed.

"model alone" is the forest's time on the same number of rows in the same
number of calls as pellucid used: the floor for pellucid's wall time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local import Timed, in_alibi  # noqa: E402

SETTINGS = {"threshold": 0.95, "delta": 0.1, "tau": 0.15, "beam_size": 2, "batch_size": 100}
FRESH_SAMPLES = 2000

# Executed in both processes so that both see the same data and forest.
PROBLEMS = """
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier


def make_problem(name):
    if name == "easy":
        rng = np.random.default_rng(0)
        X = pd.DataFrame(rng.normal(size=(3000, 8)), columns=[f"x{i}" for i in range(8)])
        y = ((X["x0"] > 0) & (X["x1"] > -0.5)).astype(int).to_numpy()
        Xtr, Xte, ytr = X.iloc[:2000], X.iloc[2000:], y[:2000]
    else:
        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import train_test_split

        data = load_breast_cancer(as_frame=True)
        Xtr, Xte, ytr, _ = train_test_split(
            data.data, data.target, test_size=0.3, random_state=0
        )
        ytr = ytr.to_numpy()
    Xtr, Xte = Xtr.reset_index(drop=True), Xte.reset_index(drop=True)
    rf = RandomForestClassifier(n_estimators=100, random_state=0).fit(Xtr.to_numpy(), ytr)
    return Xtr, Xte, rf
"""
_namespace: dict = {}
exec(PROBLEMS, _namespace)
make_problem = _namespace["make_problem"]


def seed_of(repeat: int, row: int) -> int:
    return 1000 * repeat + row


ALIBI_SCRIPT = (
    PROBLEMS
    + """
import json, sys, time
from alibi.explainers import AnchorTabular

args = json.loads(sys.argv[1])
Xtr, Xte, rf = make_problem(args["problem"])
Xtr_a, Xte_a = Xtr.to_numpy(), Xte.to_numpy()
stats = {"seconds": 0.0, "rows": 0, "calls": 0}


def predict(X):
    t = time.perf_counter()
    out = rf.predict(X)
    stats["seconds"] += time.perf_counter() - t
    stats["rows"] += len(X)
    stats["calls"] += 1
    return out


explainer = AnchorTabular(predict, list(Xtr.columns), seed=0)
explainer.fit(Xtr_a, disc_perc=(25, 50, 75))
sampler = explainer.samplers[0]
encoded = []  # the anchor's encoded predicate ids (alibi replaces them by column ids)
add_names = explainer.add_names_to_exp


def add_names_recording(explanation):
    encoded[:] = [int(k) for k in explanation["feature"]]
    add_names(explanation)


explainer.add_names_to_exp = add_names_recording
s = args["settings"]
out = {"check": float(rf.predict_proba(Xte_a).sum()), "rows": []}
for repeat in range(args["first_repeat"], args["first_repeat"] + args["repeats"]):
    for i in range(args["rows"]):
        np.random.seed(1000 * repeat + i)
        stats.update(seconds=0.0, rows=0, calls=0)
        t = time.perf_counter()
        e = explainer.explain(
            Xte_a[i], threshold=s["threshold"], delta=s["delta"], tau=s["tau"],
            batch_size=s["batch_size"], beam_size=s["beam_size"], coverage_samples=10000,
        )
        total = time.perf_counter() - t
        enc = tuple(encoded)
        bins, rows, _ = sampler.get_features_index(enc)
        train = np.ones(len(Xtr_a), dtype=bool)
        for f in rows:
            train &= np.isin(np.arange(len(Xtr_a)), rows[f])
        test = np.ones(len(Xte_a), dtype=bool)
        d_test = sampler.disc.discretize(Xte_a)
        for f, allowed in bins.items():
            test &= np.isin(d_test[:, f], sorted(allowed))
        out["rows"].append({
            "repeat": repeat, "row": i, "seconds": total, "model_seconds": stats["seconds"],
            "model_rows": stats["rows"], "model_calls": stats["calls"],
            "rule": " AND ".join(e.anchor), "precision": float(e.precision),
            "coverage": float(e.coverage), "columns": sorted(bins),
            "train_covered": np.flatnonzero(train).tolist(),
            "test_covered": np.flatnonzero(test).tolist(),
        })
print(json.dumps(out))
"""
)


def run_alibi(problem: str, rows: int, repeats: int, first_repeat: int = 0) -> dict:
    args = {
        "problem": problem,
        "rows": rows,
        "repeats": repeats,
        "first_repeat": first_repeat,
        "settings": SETTINGS,
    }
    return in_alibi(ALIBI_SCRIPT, args)


# ---------------------------------------------------------------- held-out precision


def fresh_precision(rf, Xtr, columns, train_covered, target, seed) -> float:
    """Share of fresh perturbation samples conditioned on the anchor the forest predicts as ``target``."""
    rng = np.random.default_rng(seed)
    X = Xtr.to_numpy()
    samples = X[rng.integers(len(X), size=FRESH_SAMPLES)]
    if len(columns):
        pool = np.flatnonzero(train_covered)
        if len(pool) == 0:
            return float("nan")
        anchored = X[pool[rng.integers(len(pool), size=FRESH_SAMPLES)]]
        samples[:, columns] = anchored[:, columns]
    return float((rf.predict(samples) == target).mean())


def test_precision(test_covered, pred_te, target) -> float:
    n = int(test_covered.sum())
    return float((pred_te[test_covered] == target).mean()) if n else float("nan")


# ---------------------------------------------------------------- pellucid


def run_pellucid(Xtr, Xte, rf, rows: int, repeat: int) -> list[dict]:
    import pellucid
    from pellucid.local import Anchors

    timed = Timed(rf.predict_proba)
    explainer = Anchors(pellucid.Model(timed, task="binary", classes=[0, 1]), Xtr, **SETTINGS)
    pred_te = rf.predict(Xte.to_numpy())
    out = []
    for i in range(rows):
        timed.reset()
        t = time.perf_counter()
        a = explainer.with_settings(random_state=seed_of(repeat, i)).explain(Xte.iloc[[i]])
        total = time.perf_counter() - t
        columns = sorted({Xtr.columns.get_loc(p.feature) for p in a.predicates})
        out.append(
            {
                "repeat": repeat,
                "row": i,
                "seconds": total,
                "model_seconds": timed.seconds,
                "model_rows": timed.rows,
                "model_calls": timed.calls,
                "rule": a.rule,
                "precision": a.precision,
                "coverage": a.coverage,
                "target": int(a.prediction),
                "test": test_precision(a.covers(Xte), pred_te, a.prediction),
                "fresh": fresh_precision(
                    rf, Xtr, columns, a.covers(Xtr), a.prediction, seed_of(repeat, i)
                ),
            }
        )
    return out


def model_alone(rf, Xtr, rows_per_call: int, calls: int, seed: int) -> float:
    """Seconds the forest alone takes on ``calls`` calls of ``rows_per_call`` training-like rows."""
    rng = np.random.default_rng(seed)
    X = Xtr.to_numpy()[rng.integers(len(Xtr), size=max(rows_per_call, 1))]
    t = time.perf_counter()
    for _ in range(calls):
        rf.predict_proba(X)
    return time.perf_counter() - t


# ---------------------------------------------------------------- report


def summarize(name: str, pel: list[dict], ali: list[dict] | None, floor: float) -> dict:
    keys = ["seconds", "model_seconds", "model_rows", "model_calls", "precision", "coverage"]
    keys += ["test", "fresh"]
    table = {"pellucid": pel} if ali is None else {"pellucid": pel, "alibi": ali}
    print(f"\n{name}: {len(pel)} explanations per library, settings {SETTINGS}")
    print(
        f"{'':10s} {'s/expl':>8s} {'model s':>8s} {'rows':>7s} {'calls':>6s} {'prec':>6s} "
        f"{'cov':>6s} {'test':>6s} {'fresh':>6s} {'mean test':>9s} {'mean fresh':>10s} "
        f"{'min fresh':>9s}"
    )
    med = {}
    for lib, rs in table.items():
        arr = {k: np.array([r[k] for r in rs], dtype=float) for k in keys}
        med[lib] = {k: float(np.nanmedian(v)) for k, v in arr.items()}
        med[lib]["mean_test"] = float(np.nanmean(arr["test"]))
        med[lib]["mean_fresh"] = float(np.nanmean(arr["fresh"]))
        med[lib]["min_fresh"] = float(np.nanmin(arr["fresh"]))
        m = med[lib]
        print(
            f"{lib:10s} {m['seconds']:8.3f} {m['model_seconds']:8.3f} {m['model_rows']:7.0f} "
            f"{m['model_calls']:6.0f} {m['precision']:6.3f} {m['coverage']:6.3f} "
            f"{m['test']:6.3f} {m['fresh']:6.3f} {m['mean_test']:9.3f} {m['mean_fresh']:10.3f} "
            f"{m['min_fresh']:9.3f}"
        )
    print(f"model alone on pellucid's rows and calls: {floor:.3f} s per explanation")
    if ali is not None:
        p, a = med["pellucid"], med["alibi"]
        print(
            f"speed-up (median wall): {a['seconds'] / p['seconds']:.1f}x (goal >= 5x); "
            f"model rows pellucid/alibi: {p['model_rows'] / a['model_rows']:.2f} (goal <= 1); "
            f"mean fresh precision {p['mean_fresh']:.3f} vs {a['mean_fresh']:.3f}"
        )
        for rp, ra in zip(pel, ali, strict=True):
            print(
                f"  r{rp['repeat']} row {rp['row']}: pellucid {rp['model_rows']:6d} rows "
                f"fresh {rp['fresh']:.3f} [{rp['rule']}] | alibi {ra['model_rows']:6d} rows "
                f"fresh {ra['fresh']:.3f} [{ra['rule']}]"
            )
    med["floor_seconds"] = floor
    return med


def bench(problem: str, rows: int, repeats: int, skip_alibi: bool) -> dict:
    Xtr, Xte, rf = make_problem(problem)
    pred_te = rf.predict(Xte.to_numpy())
    pel, ali = [], []
    for repeat in range(repeats):
        pel += run_pellucid(Xtr, Xte, rf, rows, repeat)
        if skip_alibi:
            continue
        got = run_alibi(problem, rows, 1, first_repeat=repeat)
        check = float(rf.predict_proba(Xte.to_numpy()).sum())
        assert abs(got["check"] - check) < 1e-9, "alibi's venv trained a different forest"
        for r in got["rows"]:
            r["repeat"] = repeat
            target = int(pred_te[r["row"]])
            covered = np.zeros(len(Xte), dtype=bool)
            covered[r["test_covered"]] = True
            r["test"] = test_precision(covered, pred_te, target)
            train = np.zeros(len(Xtr), dtype=bool)
            train[r["train_covered"]] = True
            r["fresh"] = fresh_precision(
                rf, Xtr, r["columns"], train, target, seed_of(repeat, r["row"])
            )
            ali.append(r)
    rows_med = int(np.median([r["model_rows"] for r in pel]))
    calls_med = int(np.median([r["model_calls"] for r in pel]))
    floor = model_alone(rf, Xtr, rows_med // max(calls_med, 1), calls_med, 0)
    return summarize(problem, pel, None if skip_alibi else ali, floor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--problems", nargs="+", default=["easy", "hard"])
    parser.add_argument("--skip-alibi", action="store_true")
    parser.add_argument("--json", default=None, help="write the medians here")
    args = parser.parse_args()
    print(
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{platform.node()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}, "
        f"python {sys.version.split()[0]}, numpy {np.__version__}"
    )
    result = {p: bench(p, args.rows, args.repeats, args.skip_alibi) for p in args.problems}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
