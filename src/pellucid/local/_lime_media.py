"""LIME for text (word masking) and images (superpixel masking).

Both follow the lime package's defaults: the interpretable features are
binary (word present / superpixel shown), the first sample is the input
itself, distances are cosine distances to it, and the kernel is
``sqrt(exp(-d**2 / width**2))`` (width 25 on 100 x the cosine distance for
text, 0.25 on the cosine distance for images). The surrogate is the same
weighted ridge as tabular LIME.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._protocol import UNSET, ExplainerBase, warn_per_call
from .._random import check_random_state
from .._results import Explanation
from ._lime import _check_counts, max_features_argument
from ._surrogate import SELECTIONS, exp_kernel, fit_surrogate
from ._tabular import seed_sequences
from ._text import TokenizedText, Tokenizer, text_predict

__all__ = ["LimeImage", "LimeText"]


def _cosine_to_ones(Z: np.ndarray) -> np.ndarray:
    """Cosine distance of each binary row of Z to the all-ones row (1.0 for an all-zero row)."""
    norms = np.sqrt(Z.sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = Z.sum(axis=1) / (norms * np.sqrt(Z.shape[1]))
    return np.where(norms > 0, 1.0 - sim, 1.0)


def _as_outputs(Y: Any, n: int) -> np.ndarray:
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != n:
        raise ValueError(
            f"The model returned shape {Y.shape} for {n} inputs; expected (n,) or (n, k)."
        )
    return Y


def _explanation(
    surrogate: Any,
    Y0: np.ndarray,
    values: np.ndarray,
    feature_names: tuple[str, ...],
    output_names: tuple[str, ...] | None,
    method: str,
    params: dict[str, Any],
    extra: dict[str, np.ndarray],
    data: np.ndarray | None = None,
) -> Explanation:
    single = output_names is None

    def pick(a: np.ndarray) -> np.ndarray:
        return a[..., 0] if single else a

    return Explanation(
        values=pick(values)[None],
        base_values=pick(surrogate.intercept)[None],
        feature_names=feature_names,
        output_names=output_names,
        method=method,
        params=params,
        output=pick(Y0)[None],
        data=data,
        diagnostics={
            "fidelity": pick(surrogate.score)[None],
            "local_prediction": pick(surrogate.local_prediction)[None],
            "intercept": pick(surrogate.intercept)[None],
            **extra,
        },
    )


def _output_names(model: Any, k: int) -> tuple[str, ...] | None:
    if k == 1:
        return None
    classes = getattr(model, "classes_", None)
    if classes is not None and len(classes) == k:
        return tuple(str(c) for c in classes)
    return tuple(str(i) for i in range(k))


class LimeText(ExplainerBase):
    """LIME for text classifiers: which words the prediction rests on.

    Parameters
    ----------
    model:
        A callable ``f(list[str]) -> (n, k)`` scores or ``(n,)`` outputs, or an
        estimator with ``predict_proba`` on raw texts (a text Pipeline).
    tokenizer:
        ``f(str) -> list[str]`` returning the tokens as they appear in the text,
        in order; ``\\w+`` words when None. Each distinct word is one feature;
        hiding it hides every occurrence.
    mask:
        None removes hidden words (lime's default); a string such as "UNK" replaces them.
    kernel_width:
        Width of the kernel on ``100 * cosine distance`` (lime's default 25).
    feature_selection:
        As for :class:`pellucid.Lime`.
    max_features, num_samples, random_state:
        As for :class:`pellucid.Lime` (the text's seed is its row key 0);
        ``num_features=`` is the deprecated name of ``max_features``.
    """

    _renamed = {"num_features": "max_features"}
    _call_settings = ("max_features", "num_samples", "random_state")

    def __init__(
        self,
        model: Any,
        *,
        max_features: int = 10,
        num_samples: int = 5000,
        random_state: Any = None,
        tokenizer: Tokenizer | None = None,
        mask: str | None = None,
        kernel_width: float = 25.0,
        feature_selection: str = "auto",
        num_features: Any = UNSET,
    ) -> None:
        max_features = max_features_argument("LimeText", max_features, num_features, default=10)
        if feature_selection not in SELECTIONS:
            raise ValueError(
                f"feature_selection must be one of {SELECTIONS}; got {feature_selection!r}."
            )
        self.max_features, self.num_samples = _check_counts(max_features, num_samples)
        self.random_state = check_random_state(random_state)
        self.model = model
        self._predict = text_predict(model)
        self.tokenizer = tokenizer
        self.mask = mask
        self.kernel_width = float(kernel_width)
        self.feature_selection = feature_selection

    def explain(
        self,
        text: str,
        *,
        max_features: Any = UNSET,
        num_samples: Any = UNSET,
        random_state: Any = UNSET,
        num_features: Any = UNSET,
    ) -> Explanation:
        """Explain one text; ``values`` is ``(1, n_words[, k])``, features are the distinct words.

        The keyword arguments are deprecated: they belong to the constructor."""
        max_features = max_features_argument(
            f"{type(self).__name__}.explain", max_features, num_features, default=UNSET
        )
        given = dict(max_features=max_features, num_samples=num_samples, random_state=random_state)
        warn_per_call(self, given)
        settings = self._with_overrides(**given)
        max_features, num_samples = settings["max_features"], settings["num_samples"]
        random_state = settings["random_state"]
        doc = TokenizedText(text, self.tokenizer)
        d, m = doc.n_words, int(num_samples)
        if m < 2:
            raise ValueError(f"num_samples must be at least 2; got {num_samples}.")
        rng = np.random.default_rng(seed_sequences(random_state, 1)[0])
        # As lime: remove between 1 and d words, chosen uniformly, in each sample.
        n_remove = rng.integers(1, d + 1, size=m - 1)
        ranks = rng.random((m - 1, d)).argsort(axis=1).argsort(axis=1)
        Z = np.ones((m, d))
        Z[1:] = ranks >= n_remove[:, None]
        texts = doc.render(Z.astype(bool), self.mask)
        Y = _as_outputs(self._predict(texts), m)
        w = exp_kernel(_cosine_to_ones(Z) * 100, self.kernel_width)
        s = fit_surrogate(
            Z, Y, w, max_features=int(max_features), feature_selection=self.feature_selection
        )
        return _explanation(
            s,
            Y[0],
            s.coef,
            tuple(doc.words),
            _output_names(self.model, Y.shape[1]),
            "lime_text",
            {
                "max_features": int(max_features),
                "num_samples": m,
                "kernel_width": self.kernel_width,
                "mask": self.mask,
                "random_state": random_state if isinstance(random_state, int) else None,
            },
            {},
        )


class LimeImage(ExplainerBase):
    """LIME for image classifiers: which superpixels the prediction rests on.

    Parameters
    ----------
    model:
        A callable ``f(images (n, H, W[, C])) -> (n, k)`` scores or ``(n,)`` outputs.
    segmentation:
        "quickshift" (lime's default), "slic", or a callable ``f(image) -> labels (H, W)``.
    segmentation_options:
        Keyword arguments for scikit-image's ``quickshift`` / ``slic``.
    hide:
        How a hidden superpixel is drawn: "mean" (its mean colour, lime's
        default), "blur" (a Gaussian blur of the image), or a fill value / colour.
    blur_sigma:
        Standard deviation of the blur, in pixels.
    kernel_width:
        Width of the kernel on the cosine distance (lime's default 0.25).
    max_features, num_samples, random_state:
        As for :class:`pellucid.Lime` (the image's seed is its row key 0);
        ``num_features=`` is the deprecated name of ``max_features``.
    """

    _renamed = {"num_features": "max_features"}
    _call_settings = ("max_features", "num_samples", "random_state")

    def __init__(
        self,
        model: Callable[[np.ndarray], Any],
        *,
        max_features: int = 10,
        num_samples: int = 1000,
        random_state: Any = None,
        segmentation: str | Callable[[np.ndarray], np.ndarray] = "quickshift",
        segmentation_options: dict[str, Any] | None = None,
        hide: str | float | tuple[float, ...] = "mean",
        blur_sigma: float = 5.0,
        kernel_width: float = 0.25,
        feature_selection: str = "auto",
        batch_size: int = 100,
        num_features: Any = UNSET,
    ) -> None:
        max_features = max_features_argument("LimeImage", max_features, num_features, default=10)
        if not callable(model):
            raise TypeError("model must be a callable f(images) -> array.")
        if isinstance(segmentation, str) and segmentation not in ("quickshift", "slic"):
            raise ValueError(
                f"segmentation must be 'quickshift', 'slic' or a callable; got {segmentation!r}."
            )
        if isinstance(hide, str) and hide not in ("mean", "blur"):
            raise ValueError(f"hide must be 'mean', 'blur' or a fill value; got {hide!r}.")
        if feature_selection not in SELECTIONS:
            raise ValueError(
                f"feature_selection must be one of {SELECTIONS}; got {feature_selection!r}."
            )
        self.max_features, self.num_samples = _check_counts(max_features, num_samples)
        self.random_state = check_random_state(random_state)
        self.model = model
        self.segmentation = segmentation
        self.segmentation_options = dict(segmentation_options or {})
        self.hide = hide
        self.blur_sigma = float(blur_sigma)
        self.kernel_width = float(kernel_width)
        self.feature_selection = feature_selection
        self.batch_size = int(batch_size)

    def segments(self, image: np.ndarray) -> np.ndarray:
        """Superpixel labels ``0..n-1`` of ``image``, shape ``(H, W)``."""
        if callable(self.segmentation):
            seg = np.asarray(self.segmentation(image))
        else:
            from skimage import segmentation

            color = image if image.ndim == 3 and image.shape[2] == 3 else None
            if self.segmentation == "quickshift":
                rgb = (
                    color if color is not None else np.dstack([image.reshape(image.shape[:2])] * 3)
                )
                opts = {"kernel_size": 4, "max_dist": 200, "ratio": 0.2, "rng": 0}
                opts.update(self.segmentation_options)
                seg = segmentation.quickshift(rgb.astype(float), **opts)
            else:
                opts = {"n_segments": 50, "compactness": 10.0, "start_label": 0}
                opts.update(self.segmentation_options)
                channel_axis = -1 if image.ndim == 3 else None
                seg = segmentation.slic(image.astype(float), channel_axis=channel_axis, **opts)
        if seg.shape != image.shape[:2]:
            raise ValueError(f"Segmentation has shape {seg.shape}; expected {image.shape[:2]}.")
        _, seg = np.unique(seg, return_inverse=True)
        return seg.reshape(image.shape[:2])

    def _hidden_image(self, image: np.ndarray, seg: np.ndarray) -> np.ndarray:
        img = image.astype(float)
        if isinstance(self.hide, str) and self.hide == "mean":
            flat = img.reshape(seg.size, -1)
            counts = np.bincount(seg.ravel())
            means = np.stack(
                [
                    np.bincount(seg.ravel(), weights=flat[:, c]) / counts
                    for c in range(flat.shape[1])
                ],
                axis=1,
            )
            return means[seg].reshape(img.shape)
        if isinstance(self.hide, str):
            from scipy.ndimage import gaussian_filter

            sigma = (self.blur_sigma, self.blur_sigma) + (0,) * (img.ndim - 2)
            return gaussian_filter(img, sigma=sigma)
        return np.broadcast_to(np.asarray(self.hide, dtype=float), img.shape).copy()

    def explain(
        self,
        image: np.ndarray,
        *,
        max_features: Any = UNSET,
        num_samples: Any = UNSET,
        random_state: Any = UNSET,
        num_features: Any = UNSET,
    ) -> Explanation:
        """Explain one image ``(H, W)`` or ``(H, W, C)``.

        ``values`` is ``(1, H, W[, k])``: each pixel carries its superpixel's
        weight. ``diagnostics`` adds ``segments`` ``(1, H, W)`` and
        ``segment_weights`` ``(1, n_segments[, k])``. The keyword arguments are
        deprecated: they belong to the constructor.
        """
        max_features = max_features_argument(
            f"{type(self).__name__}.explain", max_features, num_features, default=UNSET
        )
        given = dict(max_features=max_features, num_samples=num_samples, random_state=random_state)
        warn_per_call(self, given)
        settings = self._with_overrides(**given)
        max_features, num_samples = settings["max_features"], settings["num_samples"]
        random_state = settings["random_state"]
        image = np.asarray(image)
        if image.ndim not in (2, 3):
            raise ValueError(f"image must be (H, W) or (H, W, C); got shape {image.shape}.")
        m = int(num_samples)
        if m < 2:
            raise ValueError(f"num_samples must be at least 2; got {num_samples}.")
        seg = self.segments(image)
        d = int(seg.max()) + 1
        rng = np.random.default_rng(seed_sequences(random_state, 1)[0])
        Z = np.ones((m, d))
        Z[1:] = rng.integers(0, 2, size=(m - 1, d))
        hidden = self._hidden_image(image, seg)
        img = image.astype(float)
        outs = []
        for start in range(0, m, self.batch_size):
            shown = Z[start : start + self.batch_size].astype(bool)[:, seg]  # (b, H, W)
            if img.ndim == 3:
                shown = shown[..., None]
            batch = np.where(shown, img, hidden).astype(image.dtype, copy=False)
            outs.append(_as_outputs(self.model(batch), len(batch)))
        Y = np.concatenate(outs, axis=0)
        w = exp_kernel(_cosine_to_ones(Z), self.kernel_width)
        s = fit_surrogate(
            Z, Y, w, max_features=int(max_features), feature_selection=self.feature_selection
        )
        pixel_values = s.coef[seg]  # (H, W, k)
        names = _output_names(self.model, Y.shape[1])
        seg_w = s.coef if names is not None else s.coef[:, 0]
        return _explanation(
            s,
            Y[0],
            pixel_values,
            (),
            names,
            "lime_image",
            {
                "max_features": int(max_features),
                "num_samples": m,
                "kernel_width": self.kernel_width,
                "hide": self.hide if isinstance(self.hide, str) else "fill",
                "segmentation": self.segmentation
                if isinstance(self.segmentation, str)
                else "custom",
                "random_state": random_state if isinstance(random_state, int) else None,
            },
            {"segments": seg[None], "segment_weights": seg_w[None]},
            data=image[None],  # kept so plots.image draws the overlay on the picture
        )
