#!/usr/bin/env bash
# Build the image replica: a Python 3.12 virtualenv holding exactly what the pipeline steps' runtime image
# (gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0) holds, from the committed lock file
# image/gcpc-2.22.0-image.lock. The replica tier of the tests (tests/e2e/replica.py) runs every compiled
# step's command verbatim with this interpreter, each step in a fresh "container" layered over this venv.
#
# Usage:   bash scripts/setup_image_replica.sh        # idempotent; a complete replica is left alone
# Env:     IMAGE_REPLICA  venv path (default .venv-image, relative to the repo root)
#          PYTHON312      a Python 3.12 interpreter (default: python3.12 on PATH, else pyenv's 3.12.x)
#          FORCE=1        rebuild even when the marker matches the lock file
#
# The install is `pip install --no-deps -r LOCK`: the lock is already a full resolution, so pip resolves
# nothing and the replica is exactly the locked set (pip check confirms it is consistent).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
LOCK="image/gcpc-2.22.0-image.lock"
VENV="${IMAGE_REPLICA:-.venv-image}"
case "$VENV" in /*) ;; *) VENV="$REPO_ROOT/$VENV" ;; esac
MARKER="$VENV/.image-replica-complete"
WANT="$(sha256sum "$LOCK" | cut -c1-16)"

T0=$(date +%s)
log() { printf '[setup_image_replica +%ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
quiet_pip() { "$VENV/bin/python" -m pip "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; }; return "${PIPESTATUS[0]}"; }

if [[ "${FORCE:-0}" != "1" && -f "$MARKER" && "$(cat "$MARKER")" == "$WANT" && -x "$VENV/bin/python" ]]; then
  log "replica complete: $VENV (lock $WANT)"
  exit 0
fi

is312() { [[ -x "$1" ]] && "$1" -c 'import sys, venv; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; }
find_python312() {
  local candidates=()
  if [[ -n "${PYTHON312:-}" ]]; then candidates=("$PYTHON312"); else
    command -v python3.12 >/dev/null && candidates+=("$(command -v python3.12)")
    command -v pyenv >/dev/null && candidates+=($(ls -d "$(pyenv root)"/versions/3.12*/bin/python3.12 2>/dev/null | sort -rV))
  fi
  for c in "${candidates[@]}"; do if is312 "$c"; then echo "$c"; return; fi; done
}
PY="$(find_python312)"
if [[ -z "$PY" ]]; then
  cat >&2 <<MSG
error: the image replica needs Python 3.12 (the runtime image runs Ubuntu 24.04's Python 3.12) and none was
found${PYTHON312:+ (PYTHON312=$PYTHON312 is not a working Python 3.12)}. Install one (e.g. 'pyenv install 3.12',
or your distribution's python3.12 with venv) or point PYTHON312 at it, then re-run:
  bash scripts/setup_image_replica.sh
MSG
  exit 2
fi

rm -rf "$VENV"
log "creating $VENV with $PY ($("$PY" -V 2>&1))"
"$PY" -m venv "$VENV"
log "installing $(grep -cE '^[A-Za-z0-9]' "$LOCK") locked packages from $LOCK (--no-deps)"
quiet_pip install -q --disable-pip-version-check --no-deps -r "$LOCK"
log "pip check"
quiet_pip check
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
print("  " + ", ".join(f"{d} {md.version(d)}" for d in
      ("kfp", "google-cloud-aiplatform", "google-cloud-pipeline-components", "google-auth", "protobuf", "pip")))
PY
echo "$WANT" > "$MARKER"
log "done: $(du -sm "$VENV" | cut -f1) MB"
