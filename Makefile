# callqa: two commands on a fresh machine.
#   make run    install everything, assemble the offline models, process sample_audio/ into callqa.duckdb
#   make test   the test suite (what .ci/run calls)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= callqa.duckdb
PYTEST_ARGS ?=
# pip looks in /opt/wheels (where these machines keep the CPU build of torch) when it exists
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.PHONY: install system-deps models run test test-deps test-slow test-all dashboard clean samples eval bench

# Debian packages: Pango and DejaVu for WeasyPrint's PDF coaching reports, poppler-utils (pdftotext,
# pdftoppm) for the report tests; apt-get runs only when one of them is missing
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils

install: system-deps $(STAMP)

system-deps:
	@command -v dpkg >/dev/null || { echo "not Debian: install Pango, DejaVu fonts and poppler-utils yourself"; exit 0; }; \
	missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		sudo=$$([ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null && echo sudo); \
		echo "installing" $$missing; $$sudo apt-get update && $$sudo apt-get install -y $$missing; \
	fi

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(FIND_LINKS) -c constraints.txt -e ".[dev]"
	# resemblyzer's own pin of webrtcvad does not build on current setuptools; its
	# dependencies are in pyproject.toml (webrtcvad-wheels provides the same module)
	$(BIN)/python -m pip install --quiet --no-deps resemblyzer==0.1.4
	touch $(STAMP)

models: install
	$(BIN)/callqa models

run: models
	$(BIN)/callqa process sample_audio --db $(DB)

# system tools the tests use (Debian): strace and ip for the no-network dashboard test
test-deps:
	command -v strace >/dev/null && command -v ip >/dev/null || \
		{ apt-get update && apt-get install -y strace iproute2; }

test: models test-deps
	$(BIN)/callqa rubric check scoring_rubrics
	$(BIN)/python -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

test-slow: models test-deps
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update && apt-get install -y chromium chromium-driver; }   # browser tests (Debian)
	$(BIN)/python -m pytest -m "slow or browser" $(PYTEST_ARGS)

test-all: models
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# accuracy on recordings with ground truth -> benchmarks/results/eval/eval.{json,md} (the README's table)
eval: models
	$(BIN)/callqa eval --out benchmarks/results/eval

# speed and memory against bare faster-whisper, measured in the same run -> benchmarks/results/
bench: models
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update && apt-get install -y chromium chromium-driver; }   # the coaching pages' browser benchmark
	$(BIN)/python -m benchmarks.run_all

dashboard: install
	$(BIN)/callqa dashboard --db $(DB)

samples: install
	$(BIN)/python sample_audio/make_samples.py --install-deps

clean:
	rm -rf $(VENV) .prefect .pytest_cache $(DB)
