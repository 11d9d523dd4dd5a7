# mlp_nbdev: two commands on a fresh machine, `make test` and `make train`; every step is idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
JOBS ?= 2
# the exact versions the venv gets (`make CONSTRAINTS=`: settings.ini's ranges instead, as a pip user gets them)
CONSTRAINTS ?= constraints.txt
# every notebook nbdev_test would run (a leading _ leaves one out); tests/test_notebooks.py runs each once
NBS := $(sort $(filter-out nbs/_%,$(wildcard nbs/*.ipynb)))
# every other test file, after the notebooks
TESTS := $(filter-out tests/test_notebooks.py,$(sort $(wildcard tests/test_*.py)))
# quarto for the docs: the one on PATH, else the one QUARTO_INSTALL assembles from the package registries
QUARTO_INSTALL ?= ../shared/quarto/install.sh
WITH_QUARTO = export PATH="$(abspath $(BIN)):$$PATH"; command -v quarto >/dev/null || \
  { [ -x "$(QUARTO_INSTALL)" ] && q=$$("$(QUARTO_INSTALL)") && export PATH="$$(dirname "$$q"):$$PATH"; } || \
  { echo "make $@: quarto is not on PATH. Install it from https://quarto.org/docs/get-started/ (or with" >&2; \
    echo "  $(BIN)/nbdev_install_quarto), or set QUARTO_INSTALL to quarto's offline assembly (../shared/quarto/install.sh)." >&2; exit 1; }

.PHONY: help venv constraints data train test check-sync lint check-clean pytest check-docs bench lab docs readme

help:
	@echo "make test   set up .venv and the data, then run every check (sync, lint, clean, the tests, docs site)"
	@echo "make train  set up like make test, then mlp-nbdev train (the notes' recipe) into runs/<timestamp>/; ARGS='--recipe best' to change it"
	@echo "make data   find or fetch Fashion-MNIST and print where it is"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make lab    open Jupyter Lab on nbs/ with the project's venv as the kernel"
	@echo "make docs   the nbdev site in _docs/ with quarto (nbdev_docs; open _docs/index.html)"
	@echo "make readme write README.md from nbs/index.ipynb with quarto (nbdev_readme; never edit README.md by hand)"
	@echo "make lint   ruff's pyflakes checks on mlp_nbdev/ (part of make test)"
	@echo "make constraints  write constraints.txt from .venv's versions, after upgrading a package on purpose"

# The venv, with the package installed editable and its dev extras, at the exact versions of $(CONSTRAINTS) (those
# the notebooks were run with; a pip user gets settings.ini's ranges); redone when settings.ini, setup.py or
# $(CONSTRAINTS) change. Its versions exist for the Python it names (`# python: 3.11`), so another Python stops here
# with a line that says what to do. (PYTHONWARNINGS: setuptools' notice on every editable install, "Editable
# installation ... folders named like the package may take precedence", is left out of the first screen)
$(STAMP): settings.ini setup.py $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if [ -n "$(CONSTRAINTS)" ]; then want=$$(sed -n 's/^# python: *//p' $(CONSTRAINTS)); \
	  have=$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	  if [ -n "$$want" ] && [ "$$want" != "$$have" ]; then \
	    echo "make: $(CONSTRAINTS) has the versions for Python $$want (not all exist for others) and $(VENV)"; \
	    echo "  has Python $$have. Use $$want: rm -rf $(VENV) && make PYTHON=python$$want"; \
	    echo "  or take settings.ini's ranges of versions: make CONSTRAINTS="; \
	    exit 1; fi; fi
	$(PY) -m pip install -q --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -q $(CONSTRAINTS:%=-c %) -e '.[dev]'
	@touch $@

venv: $(STAMP)

# constraints.txt from the venv as it is (every package but pip and this one) and its Python, the comments kept:
# after upgrading a package on purpose, re-running the notebooks and `make test`, this records the versions.
constraints: $(STAMP)
	@{ grep '^#' constraints.txt | grep -v '^# python:'; \
	   $(PY) -c 'import sys; print("# python: %d.%d" % sys.version_info[:2])'; \
	   $(PY) -m pip freeze --all --exclude-editable | grep -v -i -E '^(pip|mlp[-_]nbdev)=='; } \
	  > constraints.txt.new && mv constraints.txt.new constraints.txt && touch $(STAMP)
	@echo "constraints.txt: $$(grep -c '==' constraints.txt) packages pinned; see git diff constraints.txt"

# Debian's dataset-fashion-mnist when we are root on a Debian-like machine (CI has no internet), then
# mlp_nbdev.data finds the files in the data root, decompresses Debian's copy there, or downloads them.
data: $(STAMP)
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's dataset-fashion-mnist"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; fi
	@$(BIN)/mlp-nbdev data

# The main job: train the concise MLP with the notes' recipe; the command prints where its outputs are.
train: data
	$(BIN)/mlp-nbdev train $(ARGS)

# 1. the modules are what the notebooks export: a hand edit (committed or not) or a stale export fails
check-sync: $(STAMP)
	@before=$$(mktemp -d); cp -r mlp_nbdev "$$before/"; \
	$(BIN)/nbdev_export; \
	changed=$$(diff -rq -x __pycache__ "$$before/mlp_nbdev" mlp_nbdev); \
	if [ -n "$$changed" ] || [ -n "$$(git status --porcelain -- mlp_nbdev)" ]; then \
	  echo "$$changed"; git status --short -- mlp_nbdev; \
	  echo "FAIL sync: mlp_nbdev/ differs from what nbdev_export writes. Edit the notebooks, not the .py files"; \
	  echo "  (the files as they were before the export are in $$before/mlp_nbdev); run nbdev_export and commit."; exit 1; fi; \
	rm -rf "$$before"

# 2. the package passes pyflakes' checks (ruff; the settings are in pyproject.toml): no unused import, redefinition or
#    undefined name in mlp_nbdev/
lint: $(STAMP)
	@$(BIN)/ruff check --no-cache --output-format concise || { \
	  echo "FAIL lint: ruff found the problems above in mlp_nbdev/. Fix them in the notebook that exports the file (the"; \
	  echo "  '# %% ../nbs/X.ipynb' line above the code names it), then run nbdev_export: remove an import nobody uses"; \
	  echo "  from its '#| export' cell; a name the module imports for its callers goes in __all__ with an exported"; \
	  echo "  cell '_all_ = [\"name\"]'. 'ruff rule F401' explains a code."; exit 1; }

# 3. the notebooks are clean (no stray metadata, execution counts kept tidy)
check-clean: $(STAMP)
	$(BIN)/nbdev_clean
	@if [ -n "$$(git status --porcelain -- nbs)" ]; then git status --short -- nbs; \
	  echo "FAIL clean: nbdev_clean changed notebooks in nbs/. Run nbdev_clean (or nbdev_install_hooks) and commit."; exit 1; fi

# 4. the tests, in $(JOBS) worker processes: every notebook once, by nbdev's own runner (tests/test_notebooks.py calls
#    nbdev's test_nb, as nbdev_test does), then every other tests/test_*.py; pytest ends with "N passed, N failed".
#    Notebooks first (the longest), and one torch thread per worker (OMP_NUM_THREADS), so workers do not oversubscribe cores.
#    -rs lists each skipped test with its reason, e.g. the PostgreSQL tests of tests/test_tune.py where no server is
#    installed (tests/test_tune.py starts a throwaway one on 127.0.0.1 when it is; .ci/run installs Debian's).
pytest: $(STAMP)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest -n $(JOBS) -p no:cacheprovider -rfEs --durations=8 \
	  tests/test_notebooks.py $(NBS:%=--nb %) $(TESTS)

# 5. the docs: nbdev_readme and nbdev_docs with quarto, then the project's checks on README.md and _docs/
#    (exported names and their docments on the pages, no error outputs, maths typeset in Chromium with no network)
check-docs: $(STAMP)
	@$(WITH_QUARTO); $(PY) .ci/docs.py

test: data check-sync lint check-clean pytest check-docs

# d2l 0.17.6 pins numpy 1.21.5 (no wheel for Python 3.11): installed without its pins, with pandas, which `d2l.torch` imports
bench: data
	$(PY) -m pip install -q pandas && $(PY) -m pip install -q --no-deps d2l==0.17.6
	$(PY) bench/run.py $(ARGS)

# Jupyter from the venv prefers the venv's own `python3` kernelspec (see `$(BIN)/jupyter kernelspec list`)
lab: data
	JUPYTER_PREFER_ENV_PATH=1 $(BIN)/jupyter lab --notebook-dir=nbs

# the nbdev site in _docs/ (open _docs/index.html), and README.md from nbs/index.ipynb; both need quarto. quarto's
# post-render step (.ci/postrender.py, named in nbs/_quarto.yml) makes the site's links relative; README.md's links and
# images become absolute URLs after nbdev_readme (nbdev_docs rewrites README.md too), for GitHub and PyPI
docs: $(STAMP)
	@$(WITH_QUARTO); $(BIN)/nbdev_docs && $(PY) .ci/postrender.py --readme README.md

readme: $(STAMP)
	@$(WITH_QUARTO); $(BIN)/nbdev_readme && $(PY) .ci/postrender.py --readme README.md
