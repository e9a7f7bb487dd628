# Two commands do all set-up on a fresh Debian machine with Python 3.11:
#   make demo   installs everything, then runs the demo on the shipped sample
#   make test   installs everything, then runs the test suite
PYTHON ?= python3
VENV ?= .venv
# torch for `rigidpose train` and its tests, pinned first so the train extra takes no other build;
# on a machine without a local CPU wheel, e.g. TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.rigidpose-installed

.PHONY: setup demo test lint typecheck clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install-system-deps.sh
	PYTHON=$(PYTHON) bash scripts/install-system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[all,dev,train]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python demos/track_box.py --out out/demo

test: $(STAMP)
	$(BIN)/ruff check rigidpose tests demos
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check rigidpose tests demos
	$(BIN)/ruff format --check rigidpose tests demos

# not yet part of lint: mypy still reports 70 errors in the package, mostly Optionals used unnarrowed
typecheck: $(STAMP)
	$(BIN)/mypy rigidpose

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache *.egg-info
