# vllm-vertex: `make compile` writes the pipelines' YAML; `make test` runs the quick tier (no vLLM, a few
# minutes); `make e2e` runs the slow tiers (real vLLM serving, pipeline end to end, fault matrix).
# Everything runs in the project's own virtualenv $(VENV), made by scripts/ensure_venv.sh with BASE_PYTHON (default:
# python3 if it is 3.11-3.13, else the newest python3.1x on PATH) or uv; it reinstalls when the interpreter or
# pyproject.toml changes. Tests run with $(VENV)/bin first on PATH, as an activated venv would.
VENV ?= .venv
PY := $(VENV)/bin/python
IN_VENV := PATH="$(abspath $(VENV))/bin:$$PATH" VIRTUAL_ENV="$(abspath $(VENV))"
VLLM_VENV ?= .venv-vllm

.PHONY: install compile generate test unit e2e matrix lint vllm-env image-replica clean bench calibration

install:
	@VENV="$(VENV)" $(if $(BASE_PYTHON),BASE_PYTHON="$(BASE_PYTHON)") bash scripts/ensure_venv.sh

compile: install
	$(PY) compile.py

# What is generated from the parameters' one declaration (vllm_vertex/config.py): the steps' parameter lists,
# the README's table, schema/run-file.schema.json. tests/test_parameter_lists.py fails until they are current.
generate: install
	$(PY) scripts/generate.py

# ruff, then mypy ([tool.mypy] in pyproject.toml: strict on the pure core; its cache is .cache/mypy).
lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy

vllm-env:
	VLLM_VENV=$(VLLM_VENV) bash scripts/setup_vllm_venv.sh

# Python 3.12 + the pipeline steps' runtime image's packages (image/gcpc-2.22.0-image.lock), for the
# image-replica tier (tests/e2e/test_image_replica.py).
image-replica:
	bash scripts/setup_image_replica.sh

# The quick tier: ruff and mypy, then every test that does not start vLLM.
test: install lint
	$(IN_VENV) $(PY) -m pytest -m "not e2e"

unit: test

# The slow tiers: real vLLM serving, the pipeline end to end under kfp.local, the image replica (the compiled
# steps run verbatim in a replica of their runtime image), the fault matrix (its table is printed at the end).
e2e: install vllm-env image-replica
	$(IN_VENV) $(PY) -m pytest -m "e2e and not subset"

# The fault matrix alone, as a table, the wall time, then "N passed, M failed".
matrix: install vllm-env
	$(IN_VENV) $(PY) -m tests.e2e.matrix

# The planner's calibration table: predicted vs published vLLM start-up figures, error per point.
calibration: install
	$(IN_VENV) $(PY) -m tests.test_planner_calibration

clean:
	rm -rf compiled .cache/installed-* local_outputs

# Benchmarks of the load probe (figures to read, not a pass/fail tier): agreement with `vllm bench serve`,
# client overhead against a server with known timing, the capacity search's knee. Needs the vLLM venv.
bench: install vllm-env
	$(VLLM_VENV)/bin/python -m pip install -q "pandas==3.1.1"  # vllm bench serve's custom dataset reads JSON lines with it
	PYTHONPATH=. $(PY) scripts/bench_probe.py
