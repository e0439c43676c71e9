"""Staging throughput and peak memory, locally: a synthetic repo (generated as it is sent, never on disk) staged
from the fake Hub into the Cloud Storage stand-in, by a separate process whose peak RSS is read at its end.

    PYTHONPATH=. python3 scripts/bench_staging.py [--gb 5] [--shards 5] [--workers 4] [--chunk-mib 16]

Prints one JSON object: bytes, seconds, MB/s, the stager's peak RSS, and a baseline RSS (the same process
staging a 1-byte repo: interpreter + clients). Both stand-ins run in this process on loopback, so the figure
is a floor set by Python HTTP servers on this machine, not Cloud Storage's or the Hub's speed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from tests.fakes.hf_hub import FakeHub, LazyFile
from tests.standin import VertexStandin
from vllm_vertex.cloud.context import API_ENDPOINT_ENV, HF_ENDPOINT_ENV

CHILD = """
import json, resource, sys, time
from vllm_vertex.cloud.weights import stage
repo, dest, workers, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t = time.monotonic()
result = stage(repo, "", dest, "bench", None, log=lambda line: print(line, file=sys.stderr), workers=workers,
               chunk_size=chunk, every=5)
print(json.dumps({"seconds": time.monotonic() - t, "copied": result.copied_bytes,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(gb: float, shards: int, workers: int, chunk_mib: int) -> dict:
    """Stages a ``gb`` GB repo in ``shards`` safetensors files; returns the figures."""
    size = int(gb * 1e9)
    with VertexStandin() as standin, FakeHub() as hub:
        standin.cloud.add_project("bench")
        standin.cloud.add_bucket("bench", "bench-bucket")
        standin.cloud.grant("buckets/bench-bucket", standin.cloud.caller, "roles/storage.objectAdmin")
        standin.storage.max_kept = 1 << 20  # big objects keep only their checksums: the stand-in holds no GBs
        files: dict[str, object] = {"config.json": {"model_type": "llama"}}
        for i in range(shards):
            files[f"model-{i + 1:05d}-of-{shards:05d}.safetensors"] = LazyFile(size // shards, seed=0)
        hub.add("bench/big", files)
        hub.add("bench/tiny", {"config.json": {}, "model.safetensors": b"\0"})
        for f in files.values():
            if isinstance(f, LazyFile):
                _ = f.sha256  # the Hub's LFS metadata, computed once (the shards share their content)
        env = {**os.environ, API_ENDPOINT_ENV: standin.url, HF_ENDPOINT_ENV: hub.url}

        def child(repo: str) -> dict:
            out = subprocess.run([sys.executable, "-c", CHILD, repo, "gs://bench-bucket/w", str(workers),
                                  str(chunk_mib << 20)], env=env, capture_output=True, text=True, check=True)
            return json.loads(out.stdout.strip().splitlines()[-1])

        baseline = child("bench/tiny")
        started = time.monotonic()
        big = child("bench/big")
        wall = time.monotonic() - started
    return {"bytes": size, "shards": shards, "workers": workers, "chunk_mib": chunk_mib,
            "seconds": round(big["seconds"], 1), "wall_seconds": round(wall, 1), "copied": big["copied"],
            "mb_per_s": round(big["copied"] / 1e6 / big["seconds"], 1), "peak_rss_mb": round(big["peak_rss_mb"]),
            "baseline_rss_mb": round(baseline["peak_rss_mb"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, default=5.0)
    parser.add_argument("--shards", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--chunk-mib", type=int, default=16)
    args = parser.parse_args()
    print(json.dumps(run(args.gb, args.shards, args.workers, args.chunk_mib)))


if __name__ == "__main__":
    main()
