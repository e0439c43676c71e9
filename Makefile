# vllm-vertex: `make compile` writes the pipelines' YAML; `make test` runs every test tier.
PYTHON ?= python3
STAMP := .cache/installed-$(shell $(PYTHON) -c 'import sys;print("%d%d" % sys.version_info[:2])')
VLLM_VENV ?= .venv-vllm

.PHONY: install compile test unit e2e lint vllm-env clean

$(STAMP): pyproject.toml
	mkdir -p .cache
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

install: $(STAMP)

compile: install
	$(PYTHON) compile.py

lint: install
	$(PYTHON) -m ruff check .

vllm-env:
	VLLM_VENV=$(VLLM_VENV) bash scripts/setup_vllm_venv.sh

unit: install
	$(PYTHON) -m pytest -m "not e2e"

test: install vllm-env lint
	$(PYTHON) -m pytest

# The fault matrix as a table, the wall time, then "N passed, M failed".
e2e: install vllm-env
	$(PYTHON) -m tests.e2e.matrix

clean:
	rm -rf compiled .cache/installed-* local_outputs
