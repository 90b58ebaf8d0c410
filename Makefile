# Two commands for a newcomer:  `make run`  and  `make test`.
# Both create the virtual environment in .venv and (re)install only when pyproject.toml changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch for the test/training environment: this exact version is on disk here (a CPU build);
# users training on a GPU install their own CUDA build instead (pip install -e ".[train]").
TORCH_SPEC ?= torch==2.13.0

.PHONY: run test setup setup-dev demo bench screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime-ok: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[gui,privacy]"
	touch $@

$(VENV)/.dev-ok: pyproject.toml Makefile | $(PY)
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[gui,train,test,privacy,cluster]"
	touch $@ $(VENV)/.runtime-ok

setup: $(VENV)/.runtime-ok
setup-dev: $(VENV)/.dev-ok

## The main job: the desktop app; on a machine without a screen, the headless analysis of the demo clip.
run: setup
	$(PY) main.py

## The test suite (Qt tests run offscreen).
test: setup-dev
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: setup
	$(PY) main.py bench

demo: setup-dev
	$(PY) main.py make-demo

## Screenshots of the app under Xvfb (Debian: xvfb and Qt's xcb libraries, see README).
screenshots: setup-dev
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache out
