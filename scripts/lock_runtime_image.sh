#!/usr/bin/env bash
# Regenerate image/runtime-image.lock: what image/Dockerfile installs over GCPC's image, i.e. every step's
# pinned clients (components/_runtime.py PACKAGES) resolved by the image's own pip 24.0 over the image replica.
# Run after changing PACKAGES. Needs the replica (bash scripts/setup_image_replica.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup_image_replica.sh
PYTHONPATH="$PWD" python3 -m tests.e2e.replica --lock-runtime-image image/runtime-image.lock
