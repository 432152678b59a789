"""Report: the computed results plus their HTML, saved as one offline file."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..metrics._subgroups import UNSET, subgroups_argument
from ._compute import ReportResults, compute
from ._render import render


class Report:
    """A model report. ``results`` holds every result object; ``html`` the document.

    ``save(path)`` writes one self-contained HTML file (images and styles
    inline, nothing fetched from any other host); in a notebook the report
    shows itself through ``_repr_html_``.
    """

    def __init__(self, results: ReportResults) -> None:
        self.results = results
        self._html: str | None = None

    @property
    def html(self) -> str:
        """The whole document (rendered once, then kept)."""
        if self._html is None:
            self._html = render(self.results, standalone=True)
        return self._html

    def save(self, path: str | Path) -> Path:
        """Write the report to ``path`` (UTF-8 HTML) and return the path."""
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"Save the report as .html; got {path.name!r}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.html, encoding="utf-8")
        return path

    def to_dict(self) -> dict[str, Any]:
        """The results (not the HTML) in the shared versioned JSON."""
        return self.results.to_dict()

    def to_json(self, path: str | None = None, *, indent: int | None = None) -> str:
        """The results as JSON: :meth:`from_json` gives a Report that renders the same
        document without the model."""
        return self.results.to_json(path, indent=indent)

    @classmethod
    def from_json(cls, text_or_path: str) -> Report:
        return cls(ReportResults.from_json(text_or_path))

    def _repr_html_(self) -> str:
        # A fragment with scoped styles: a notebook page already has <html> and <body>.
        return render(self.results, standalone=False)

    def __repr__(self) -> str:
        r = self.results
        return (
            f"Report(title={r.title!r}, task={r.task!r}, rows={r.overview.n_rows}, "
            f"features={r.overview.n_features})"
        )


def report(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    background: Any = None,
    rows: Sequence[int] | None = None,
    methods: str | Sequence[str] = "auto",
    subgroups: Any = None,
    output: Any = None,
    random_state: int = 0,
    settings: Mapping[str, Any] | None = None,
    title: str | None = None,
    progress: Callable[[str, str], None] | None = None,
    groups: Any = UNSET,
) -> Report:
    """Evaluate and explain ``model`` on ``X`` (and ``y``) in one self-contained report.

    Sections: data overview (distributions, missing values, strongly
    correlated pairs), model performance (needs ``y``; per subgroup with
    ``subgroups``, a column name or one label per row; ``groups=`` is its
    deprecated name), global importance
    (permutation and mean |SHAP| side by side), effects (PD/ICE and ALE of
    the top features, a two-feature heat map), SHAP summary, local
    explanations of ``rows`` (positions in X; by default the rows with the
    highest, median and lowest prediction) with SHAP, LIME and Anchors side by
    side, and a reproducibility record.

    ``methods="auto"`` picks TreeShap for tree models and a model-agnostic
    estimator otherwise, plus LIME, Anchors (classifiers), permutation
    importance, PD and ALE; or pass a list of method names to use only those.
    ``output`` is the class whose probability is explained (default: the last
    class, the positive one of a binary classifier). ``background`` gives the
    reference rows (default: rows drawn from X). ``settings`` overrides the
    sizes in :data:`DEFAULT_SETTINGS` (rows explained, grid points, ...).
    Sampling uses ``random_state``: the same seed gives the same results.
    ``progress(key, title)`` is called as each section starts.

    Examples
    --------
    >>> rep = pellucid.report(model, X_test, y_test, subgroups="sex")
    >>> rep.save("report.html")
    """
    subgroups = subgroups_argument("report", subgroups, groups)
    results = compute(
        model,
        X,
        y,
        background=background,
        rows=rows,
        methods=methods,
        subgroups=subgroups,
        output=output,
        random_state=random_state,
        settings=settings,
        title=title,
        progress=progress,
    )
    return Report(results)
