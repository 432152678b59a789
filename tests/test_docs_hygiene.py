"""Code and docs say what they mean, not which ticket they came from.

A comment such as "the fix for ticket 12" tells a reader nothing once the
tracker is gone; the sentence should say what the code does instead. This test
scans the package, the tests, the README and the docs for tracker references
("issue" followed by a number, or a bare hash-number).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# the word issue(s), an optional hash, a number
ISSUE_WORD = re.compile(r"\bissues?\s*#?\d+", re.IGNORECASE)
# a hash and one or two digits on their own; not HTML entities (ampersand-hash)
# nor CSS colours (three or six hex digits)
HASH_NUMBER = re.compile(r"(?<![&\w#])#\d{1,2}\b")

SCANNED = ("src", "tests", "docs", "README.md")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".html", ".j2", ".js", ".css", ".cfg", ".sh"}
# third-party or generated files, and the page the lead is rewriting
SKIPPED_PARTS = {"vendor", "baseline_images", "__pycache__"}
SKIPPED_FILES = {"docs/benchmarks.md"}
# text that is data, not a reference: a row label in a plot case
ALLOWED = {("tests/_plot_cases.py", "digit " + "#" + "17")}


def scanned_files() -> list[Path]:
    files = []
    for entry in SCANNED:
        path = ROOT / entry
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in candidates:
            relative = file.relative_to(ROOT).as_posix()
            if not file.is_file() or file.suffix not in TEXT_SUFFIXES:
                continue
            if relative in SKIPPED_FILES or SKIPPED_PARTS & set(file.parts):
                continue
            if any(part.endswith(".egg-info") for part in file.parts):
                continue
            files.append(file)
    return files


def markers(text: str, relative: str) -> list[str]:
    """Every tracker reference in ``text``, as ``line N: <line>``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if any(relative == path and allowed in line for path, allowed in ALLOWED):
            continue
        if ISSUE_WORD.search(line) or HASH_NUMBER.search(line):
            found.append(f"line {number}: {line.strip()[:120]}")
    return found


@pytest.mark.parametrize(
    "line",
    [
        "# " + "issue" + " 5: model-agnostic Shapley values",
        "Goal (" + "Issue" + " 26, goal 5): rows",
        "see " + "#" + "12",
        "fixed in (" + "#" + "3)",
        "issues" + " 3 and 4",
    ],
)
def test_marker_patterns_catch_tracker_references(line: str) -> None:
    assert markers(line, "src/x.py"), line


@pytest.mark.parametrize(
    "line",
    ["color:#222;", "fill: #fff", "&#39;quoted&#39;", "x = a  # the row's 12 features"],
)
def test_marker_patterns_leave_colours_and_entities_alone(line: str) -> None:
    assert markers(line, "src/x.py") == []


def test_the_scan_covers_the_package_tests_and_docs() -> None:
    relative = {file.relative_to(ROOT).as_posix() for file in scanned_files()}
    assert {"README.md", "docs/architecture.md", "src/pellucid/__init__.py"} <= relative
    assert "tests/test_docs_hygiene.py" in relative
    assert "docs/benchmarks.md" not in relative


def test_no_tracker_references_in_code_or_docs() -> None:
    offenders = {}
    for file in scanned_files():
        relative = file.relative_to(ROOT).as_posix()
        found = markers(file.read_text(encoding="utf-8", errors="replace"), relative)
        if found:
            offenders[relative] = found
    assert not offenders, "say what the code does, not which ticket it came from:\n" + "\n".join(
        f"{path}: {line}" for path, lines in offenders.items() for line in lines
    )


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def readme_headings() -> list[str]:
    headings, fenced = [], False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            headings.append(line[3:])
    return headings


def test_github_slug_matches_githubs_rule() -> None:
    assert github_slug("Tree models: exact SHAP (`pellucid.TreeShap`)") == (
        "tree-models-exact-shap-pellucidtreeshap"
    )
    assert github_slug("Global effects (permutation importance, PD/ICE, ALE, H)") == (
        "global-effects-permutation-importance-pdice-ale-h"
    )


def test_readme_links_to_its_own_sections_resolve() -> None:
    slugs = {github_slug(h) for h in readme_headings()}
    links = re.findall(r"\]\(#([^)]+)\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert links, "the README's journey list links to its sections"
    assert sorted(set(links) - slugs) == []


def test_readme_follows_a_users_journey() -> None:
    """Evaluate, understand globally, explain one decision, trust, then share and serve."""
    headings = readme_headings()

    def position(start: str) -> int:
        matches = [i for i, h in enumerate(headings) if h.startswith(start)]
        assert matches, f"no README section starting {start!r}"
        return matches[0]

    journey = [
        "Use: fit, predict, evaluate",
        "Global effects",
        "Shapley values",
        "What would change the decision",
        "How far to trust",
        "Report and plots",
        "Reason codes",
        "Command line",
    ]
    positions = [position(start) for start in journey]
    assert positions == sorted(positions), dict(zip(journey, positions, strict=True))
