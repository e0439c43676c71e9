"""Compiles every pipeline to YAML, offline. ``python compile.py [--out DIR]``.

Writes the deploy-and-verify pipeline for the text-only configuration (Llama 3.1 8B Instruct on
one L4) and the multimodal one (Llama 3.2 11B Vision Instruct on one A100).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

TARGETS = {
    "vllm-deploy-text.yaml": "llama-3.1-8b-instruct",
    "vllm-deploy-multimodal.yaml": "llama-3.2-11b-vision-instruct",
}


def main(argv: list[str] | None = None) -> int:
    """Compiles every pipeline into ``--out`` (default ``compiled/``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="compiled", help="output folder (default: compiled)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    from pipelines import compile_pipeline
    from vllm_vertex.config import ConfigError, from_preset

    for filename, preset in TARGETS.items():
        try:
            path = compile_pipeline(from_preset(preset), pathlib.Path(args.out) / filename)
        except ConfigError as err:
            print(err, file=sys.stderr)
            return 2
        print(f"wrote {path} (preset {preset})")
    print(f"compiled {len(TARGETS)} pipelines in {time.perf_counter() - start:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
