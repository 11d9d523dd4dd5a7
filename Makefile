# mlp_nbdev: two commands on a fresh machine, `make test` and `make train`; every step is idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

.PHONY: help venv data test check-sync check-clean nbtest pytest bench lab

help:
	@echo "make test   set up .venv and the data, then run every check (sync, clean, notebooks, pytest)"
	@echo "make data   find or fetch Fashion-MNIST and print where it is"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make lab    open Jupyter Lab on nbs/ with the project's venv as the kernel"

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
	@$(PY) -c "from mlp_nbdev.data import get_fashion_mnist, raw_dir; print('Fashion-MNIST is in', raw_dir(get_fashion_mnist()))"

# 1. the modules are what the notebooks export
check-sync: $(STAMP)
	$(BIN)/nbdev_export
	@if [ -n "$$(git status --porcelain -- mlp_nbdev)" ]; then git status --short -- mlp_nbdev; \
	  echo "FAIL sync: mlp_nbdev/ differs from what nbdev_export writes. Edit the notebooks, not the .py files; run nbdev_export and commit."; exit 1; fi

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

test: data check-sync check-clean nbtest pytest

bench: data
	$(PY) bench/bench_data.py

lab: data
	$(BIN)/jupyter lab --notebook-dir=nbs
