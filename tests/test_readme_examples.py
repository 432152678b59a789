"""Every ```python block of README.md runs as written, against the bundled data.

Namespaces: the blocks of one ``## `` section share a namespace, and every section
starts from a copy of the first section's ("Use"), which fits the model the
others explain, the way a reader continues from it. A block preceded by
``<!-- no-run: reason -->`` is skipped (it needs a cluster, a URL or a file the
reader brings), and the reason must be given.
"""

from __future__ import annotations

import copy
import re
import warnings
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
NO_RUN = re.compile(r"<!--\s*no-run:\s*(\S.*?)\s*-->")


def sections() -> list[tuple[str, list[tuple[int, str, str | None]]]]:
    """(heading, [(line, code, no-run reason or None)]) for each section with python blocks."""
    found: dict[str, list[tuple[int, str, str | None]]] = {}
    heading = "(top)"
    lines = README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            heading = line[3:].strip()
        elif line.strip() == "```python":
            start = i + 1
            end = next(j for j in range(start, len(lines)) if lines[j].startswith("```"))
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            marker = NO_RUN.search(before)
            code = "\n".join(lines[start:end])
            found.setdefault(heading, []).append((start + 1, code, marker and marker.group(1)))
            i = end
        i += 1
    return list(found.items())


SECTIONS = sections()


def _run(blocks, namespace):
    from pellucid.regulatory._reasons import ProtectedAttributeWarning

    for line, code, reason in blocks:
        if reason is not None:
            continue
        try:
            with warnings.catch_warnings():
                # The reason-codes example flags a protected attribute on purpose; every
                # other warning stays an error, as in the rest of the suite.
                warnings.filterwarnings("ignore", category=ProtectedAttributeWarning)
                exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except Exception as exc:  # name the block, keep the traceback
            raise AssertionError(f"README.md block at line {line} failed: {exc!r}") from exc
    return namespace


@pytest.fixture(scope="module")
def setup_namespace(tmp_path_factory):
    import os

    import matplotlib

    matplotlib.use("Agg")
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("readme-setup"))
    try:
        return _run(SECTIONS[0][1], {"__name__": "__readme__"})
    finally:
        os.chdir(here)


def test_the_readme_has_python_examples_and_the_parser_reads_markers():
    assert len(SECTIONS) >= 8
    assert sum(len(blocks) for _, blocks in SECTIONS) >= 12
    assert NO_RUN.search("<!-- no-run: needs a Dask cluster -->").group(1) == "needs a Dask cluster"
    assert NO_RUN.search("<!-- no-run: -->") is None  # a reason is required
    for _, blocks in SECTIONS:
        for line, _code, reason in blocks:
            assert reason is None or reason.strip(), line


# about two minutes in all (the Shapley section alone ~50 s, global effects ~30 s)
@pytest.mark.slow
@pytest.mark.parametrize("heading", [h for h, _ in SECTIONS[1:]])
def test_section_runs(heading, setup_namespace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks save files (reports, cards)
    blocks = dict(SECTIONS)[heading]
    if all(reason is not None for _, _, reason in blocks):
        pytest.skip(f"every block of {heading!r} is marked no-run")
    namespace = {k: v for k, v in setup_namespace.items() if k != "__builtins__"}
    _run(blocks, copy.copy(namespace))
