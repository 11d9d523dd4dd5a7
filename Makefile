# mlp_nbdev: two commands on a fresh machine, `make test` and `make train`; every step is idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

.PHONY: help venv data train test check-sync check-clean nbtest pytest check-docs bench lab docs readme nbexec

help:
	@echo "make test   set up .venv and the data, then run every check (sync, clean, notebooks, pytest, docs)"
	@echo "make train  set up like make test, then mlp-nbdev train (the notes' recipe) into runs/<timestamp>/; ARGS='--recipe best' to change it"
	@echo "make data   find or fetch Fashion-MNIST and print where it is"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make lab    open Jupyter Lab on nbs/ with the project's venv as the kernel"
	@echo "make docs   the docs site in _docs/: nbdev_docs with quarto, else an nbconvert preview (open _docs/index.html)"
	@echo "make readme write README.md from nbs/index.ipynb (never edit README.md by hand)"
	@echo "make nbexec run every notebook top to bottom in a real Jupyter kernel (copies; nbs/ untouched)"

# The venv, with the package installed editable and its dev extras; redone only when settings.ini or setup.py change.
$(STAMP): settings.ini setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

venv: $(STAMP)

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

# 2. the notebooks are clean (no stray metadata, execution counts kept tidy)
check-clean: $(STAMP)
	$(BIN)/nbdev_clean
	@if [ -n "$$(git status --porcelain -- nbs)" ]; then git status --short -- nbs; \
	  echo "FAIL clean: nbdev_clean changed notebooks in nbs/. Run nbdev_clean (or nbdev_install_hooks) and commit."; exit 1; fi

# 3. the notebooks' inline tests, by nbdev itself
nbtest: $(STAMP)
	$(BIN)/nbdev_test

# 4. every notebook and the command-line tests as pytest cases; ends with "N passed, N failed"
pytest: $(STAMP)
	$(PY) -m pytest tests -rA -p no:cacheprovider | tail -n 40; exit $${PIPESTATUS[0]}

# 5. the docs: every notebook a page, every exported name on its page, no error outputs, README.md in sync (no quarto)
check-docs: $(STAMP)
	$(PY) .ci/docs.py check

test: data check-sync check-clean nbtest pytest check-docs

bench: data
	$(PY) bench/run.py

# Jupyter from the venv prefers the venv's own `python3` kernelspec (see `$(BIN)/jupyter kernelspec list`)
lab: data
	JUPYTER_PREFER_ENV_PATH=1 $(BIN)/jupyter lab --notebook-dir=nbs

# quarto on PATH: the nbdev site; else every page through nbconvert into _docs/ (a preview with the plots)
docs: $(STAMP)
	@if command -v quarto >/dev/null; then $(BIN)/nbdev_docs; \
	else echo "quarto is not on PATH (https://quarto.org/docs/get-started/): building an nbconvert preview"; \
	  $(PY) .ci/docs.py html; fi

readme: $(STAMP)
	$(PY) .ci/docs.py readme

# every chapter in a real Jupyter kernel, as `make lab` runs it; seconds per notebook
nbexec: data
	$(PY) .ci/docs.py exec
