"""A 5 GB repo (generated as it is sent, never on disk) is staged with bounded memory (slow tier: ~1–2 min here).

The stager runs in its own process (``scripts/bench_staging.py``); its peak RSS is read at its end with
``getrusage``. The bound is what the design holds per file in flight, whatever the model's size: the
upload's chunk, a copy of it being sent, the Hub client's 10 MB read, and slack, for each worker.
"""

import pytest

from scripts import bench_staging
from vllm_vertex.cloud import weights

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_five_gb_repo_stages_under_a_memory_bound():
    figures = bench_staging.run(gb=5.0, shards=5, workers=weights.WORKERS, chunk_mib=weights.CHUNK_SIZE >> 20)
    assert figures["copied"] >= 5_000_000_000
    per_worker_mb = (4 * weights.CHUNK_SIZE + 20_000_000) / 1e6
    bound = figures["baseline_rss_mb"] + weights.WORKERS * per_worker_mb
    assert figures["peak_rss_mb"] < bound, figures
    assert figures["peak_rss_mb"] < 5_000 / 10, figures  # a tenth of the repo, at most
    print(figures)
