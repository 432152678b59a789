"""The k-NN plausibility limit: a counterfactual must lie as close to the data as the
data's own rows lie to each other.

Distance is the MAD-scaled L1 of the cost (a category mismatch, or a value missing
on one side only, counts 1). A point's score is its distance to its k-th nearest
reference row; the limit is the 95th percentile of the same score for reference
rows among the others (each row left out of its own neighbours). A point is
plausible when its score is at most the limit: as typical as 95% of real rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ._space import FeatureSpace

__all__ = ["KnnLimit"]

NEIGHBOURS = 5
QUANTILE = 0.95
REFERENCE_ROWS = 2000  # rows kept as neighbours (evenly spaced through the data)
CALIBRATION_ROWS = 500  # reference rows whose own scores set the limit
CHUNK = 256  # query rows per distance block


class KnnLimit:
    """Scores points by their k-th nearest reference row; ``plausible`` applies the limit."""

    def __init__(self, space: FeatureSpace, k: int = NEIGHBOURS) -> None:
        self.space = space
        self.k = int(k)
        frame = space.frame
        take = np.unique(
            np.linspace(0, len(frame) - 1, min(len(frame), REFERENCE_ROWS)).astype(int)
        )
        if len(take) <= self.k:
            raise ValueError(
                f"plausibility='knn' needs more than {self.k} reference rows; data has {len(take)}."
            )
        self.reference = self._encode(frame.iloc[take])
        calibrate = np.unique(
            np.linspace(0, len(take) - 1, min(len(take), CALIBRATION_ROWS)).astype(int)
        )
        # each calibration row is its own nearest neighbour at distance 0: skip it
        own = self._kth(self.reference[calibrate], self.k + 1)
        self.limit = float(np.quantile(own, QUANTILE))

    def _encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Numbers divided by their MAD, categories as codes (compared for equality only)."""
        out = np.empty((len(frame), len(self.space.features)))
        for f in self.space.features:
            col = frame.iloc[:, f.index]
            if f.categorical:
                codes = {c: i for i, c in enumerate(f.categories)}
                out[:, f.index] = [codes.get(v, np.nan) if not pd.isna(v) else np.nan for v in col]
            else:
                out[:, f.index] = col.to_numpy(dtype=np.float64, na_value=np.nan) / f.scale
        return out

    def _kth(self, points: np.ndarray, k: int) -> np.ndarray:
        categorical = np.array([f.categorical for f in self.space.features])
        out = np.empty(len(points))
        ref = self.reference
        for start in range(0, len(points), CHUNK):
            p = points[start : start + CHUNK, None, :]
            diff = np.abs(p - ref[None, :, :])
            diff[:, :, categorical] = (diff[:, :, categorical] != 0).astype(np.float64)
            missing = np.isnan(p) | np.isnan(ref[None, :, :])
            both = np.isnan(p) & np.isnan(ref[None, :, :])
            diff = np.where(missing, np.where(both, 0.0, 1.0), diff)
            d = diff.sum(axis=2)
            out[start : start + CHUNK] = np.partition(d, k - 1, axis=1)[:, k - 1]
        return out

    def scores(self, rows: pd.DataFrame) -> np.ndarray:
        """Distance of each row to its k-th nearest reference row."""
        return self._kth(self._encode(rows), self.k)

    def plausible(self, rows: pd.DataFrame) -> np.ndarray:
        return self.scores(rows) <= self.limit
