# Two entry points: `make demo` (the main job) and `make test` (the whole gate).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: demo test install install-dev lint typecheck pytest clean chromium

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip setuptools wheel
	$(PIP) -e ".[all]"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e ".[all,dev]"
	$(PIP) --no-deps "zennit==0.5.1"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(VENV)/bin/pellucid demo

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

typecheck: install-dev
	$(VENV)/bin/mypy

# The report's browser test opens the HTML in headless Chromium (Debian's package).
# OMP_NUM_THREADS=1: two xdist workers on two cores; OpenMP threads on top of them
# (scikit-learn's HistGradientBoosting, LightGBM, XGBoost) spin and slow every test.
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

pytest: install-dev chromium
	PELLUCID_REQUIRE_CHROMIUM=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info
