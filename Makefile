# vllm-vertex: `make compile` writes the pipelines' YAML; `make test` runs the quick tier (no vLLM, a few
# minutes); `make e2e` runs the slow tiers (real vLLM serving, pipeline end to end, fault matrix).
PYTHON ?= python3
STAMP := .cache/installed-$(shell $(PYTHON) -c 'import sys;print("%d%d" % sys.version_info[:2])')
VLLM_VENV ?= .venv-vllm

.PHONY: install compile test unit e2e matrix lint vllm-env image-replica clean bench calibration

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

# Python 3.12 + the pipeline steps' runtime image's packages (image/gcpc-2.22.0-image.lock), for the
# image-replica tier (tests/e2e/test_image_replica.py).
image-replica:
	bash scripts/setup_image_replica.sh

# The quick tier: ruff, then every test that does not start vLLM.
test: install lint
	$(PYTHON) -m pytest -m "not e2e"

unit: test

# The slow tiers: real vLLM serving, the pipeline end to end under kfp.local, the image replica (the compiled
# steps run verbatim in a replica of their runtime image), the fault matrix (its table is printed at the end).
e2e: install vllm-env image-replica
	$(PYTHON) -m pytest -m e2e

# The fault matrix alone, as a table, the wall time, then "N passed, M failed".
matrix: install vllm-env
	$(PYTHON) -m tests.e2e.matrix

# The planner's calibration table: predicted vs published vLLM start-up figures, error per point.
calibration: install
	$(PYTHON) -m tests.test_planner_calibration

clean:
	rm -rf compiled .cache/installed-* local_outputs

# Benchmarks of the load probe (figures to read, not a pass/fail tier): agreement with `vllm bench serve`,
# client overhead against a server with known timing, the capacity search's knee. Needs the vLLM venv.
bench: install vllm-env
	$(VLLM_VENV)/bin/python -m pip install -q "pandas==3.1.1"  # vllm bench serve's custom dataset reads JSON lines with it
	PYTHONPATH=. $(PYTHON) scripts/bench_probe.py
