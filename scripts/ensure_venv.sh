#!/usr/bin/env bash
# The project's own virtualenv: create it when missing, (re)install the project into it (editable, with its test
# tools) when the interpreter or pyproject.toml changed. `make` runs this before every target that needs Python,
# so `make compile` works on a fresh machine, PEP 668 ("externally managed") system Pythons included.
#
# Usage:   bash scripts/ensure_venv.sh          # idempotent: ~0.1 s when the venv is up to date
# Env:     VENV          venv path (default .venv, relative to the repo root)
#          BASE_PYTHON   interpreter to create the venv with (default: python3 if it is 3.11-3.13, else the
#                        newest of python3.13, python3.12, python3.11 on PATH)
#          FORCE=1       reinstall even when the stamp matches
#
# uv, when on PATH, creates the venv (with pip seeded: kfp.local runs each step's `pip install`) and installs
# into it; otherwise `python -m venv` and pip do. The stamp ($VENV/.vllm-vertex-installed) holds a hash of the
# venv's interpreter (path, version) and pyproject.toml: a recreated venv or a changed dependency reinstalls.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
STAMP="$VENV/.vllm-vertex-installed"
SUPPORTED="3.11, 3.12 or 3.13"

log() { printf '[install] %s\n' "$*" >&2; }
# pip's own progress goes to stderr, less one "Location ... is ignored" warning per package that a machine's
# extra local indexes cause.
pip_shown() { "$PY" -m pip "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; } >&2; return "${PIPESTATUS[0]}"; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# "3.12" when $1 runs and is a supported Python; its version on stdout and status 1 when it runs but is not;
# nothing and status 1 when it does not run.
version_of() {
  "$1" -c 'import sys; v = sys.version_info; print("%d.%d" % v[:2]); sys.exit(0 if (3, 11) <= v[:2] <= (3, 13) else 1)' \
    2>/dev/null
}

pick_base() {
  local candidate version
  if [[ -n "${BASE_PYTHON:-}" ]]; then
    command -v "$BASE_PYTHON" >/dev/null || die "BASE_PYTHON=$BASE_PYTHON was not found; point it at a Python $SUPPORTED."
    if ! version="$(version_of "$BASE_PYTHON")"; then
      die "BASE_PYTHON=$BASE_PYTHON is Python ${version:-(unknown: it does not run)}; vllm-vertex needs Python $SUPPORTED (kfp 2.17 and its Google clients). Point BASE_PYTHON at one, e.g. make compile BASE_PYTHON=python3.12"
    fi
    echo "$BASE_PYTHON"; return
  fi
  local seen=()
  for candidate in python3 python3.13 python3.12 python3.11; do
    command -v "$candidate" >/dev/null || continue
    if version="$(version_of "$candidate")"; then echo "$candidate"; return; fi
    seen+=("$candidate is ${version:-not runnable}")
  done
  die "vllm-vertex needs Python $SUPPORTED, and none was found on PATH (${seen[*]:-no python3 at all}; Python 3.10 and older are not supported: kfp 2.17 and its Google clients need 3.11+). Install one (e.g. your distribution's python3.12 and python3.12-venv, or 'pyenv install 3.12'), then run: make compile BASE_PYTHON=python3.12"
}

create_venv() {
  local base="$1"
  log "creating $VENV with $base ($("$base" -V 2>&1), $(command -v "$base"))"
  if command -v uv >/dev/null; then
    uv venv --seed --python "$(command -v "$base")" "$VENV" >&2 || die "uv venv failed (output above)."
    return
  fi
  if ! "$base" -m venv "$VENV" >&2; then
    rm -rf "$VENV"
    die "'$base -m venv $VENV' failed (output above). On Debian or Ubuntu the venv module is a separate package: sudo apt install python3-venv (or python3.X-venv for your version), or install uv, then run make again."
  fi
}

# An existing venv is kept when its interpreter runs and is supported; otherwise it is made again.
if [[ -x "$PY" ]] && version_of "$PY" >/dev/null; then
  :
else
  if [[ -e "$VENV" ]]; then
    log "$VENV does not hold a working Python $SUPPORTED ($(version_of "$PY" || true)); making it again"
    rm -rf "$VENV"
  fi
  base="$(pick_base)" || exit 2
  create_venv "$base"
fi

key="$({ "$PY" -c 'import os, sys; print(os.path.realpath(sys.executable), sys.version, sys.prefix)'; cat pyproject.toml; } \
  | sha256sum | cut -c1-16)"
if [[ "${FORCE:-0}" != "1" && -f "$STAMP" && "$(cat "$STAMP")" == "$key" ]]; then
  exit 0
fi
rm -f "$STAMP"
start=$(date +%s)
log "installing vllm-vertex and its test tools into $VENV ($("$PY" -V 2>&1)); a first install takes a few minutes"
if command -v uv >/dev/null; then
  uv pip install --python "$PY" -e ".[test]" >&2 || die "the install failed (uv's output above)."
else
  pip_shown install --disable-pip-version-check -e ".[test]" || die "the install failed (pip's output above)."
fi
echo "$key" > "$STAMP"
log "installed in $(( $(date +%s) - start )) s: $(du -sm "$VENV" | cut -f1) MB in $VENV"
