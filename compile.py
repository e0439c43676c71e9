"""Compiles every pipeline to YAML, offline. ``python compile.py [--out DIR]``.

Writes the deploy-and-verify pipeline for the text-only configuration (Llama 3.1 8B Instruct on
one L4) and the multimodal one (Llama 3.2 11B Vision Instruct on one A100), and the canary
pipeline that smoke-tests an existing endpoint. ``vllm-vertex compile`` does the same.
"""

from __future__ import annotations

import argparse
import sys
import time

from pipelines.compiling import CANARY_TARGETS, DEPLOY_TARGETS

TARGETS = DEPLOY_TARGETS  # the deploy-and-verify files
__all__ = ["CANARY_TARGETS", "TARGETS", "main", "run"]


def run(out: str, image: str = "") -> int:
    """Compiles everything into ``out``; returns the exit code (2 when a preset is invalid)."""
    from pipelines import compile_all
    from vllm_vertex.errors import ConfigError

    start = time.perf_counter()
    try:
        paths = compile_all(out, image=image)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"compiled {len(paths)} pipelines in {time.perf_counter() - start:.2f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Compiles every pipeline into ``--out`` (default ``compiled/``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="compiled", help="output folder (default: compiled)")
    parser.add_argument("--image", default="", help="prebuilt runtime image for every step (image/Dockerfile)")
    args = parser.parse_args(argv)
    return run(args.out, args.image)


if __name__ == "__main__":
    sys.exit(main())
