"""The probe's figures equal ``vllm bench serve``'s own ``calculate_metrics`` on the same requests.

Runs vLLM's function in the vLLM venv on records we make up (streamed, one-token, failed), and
compares every figure with ``vllm_vertex.probe.metrics.summarize_level``.
"""

from __future__ import annotations

import json
import random
import subprocess

import pytest

from tests.e2e.vllm_server import default_venv, venv_problem
from vllm_vertex.probe import RequestRecord, summarize_level

pytestmark = pytest.mark.e2e

_SCRIPT = r"""
import json, sys
from vllm.benchmarks.lib.endpoint_request_func import RequestFuncOutput
from vllm.benchmarks.serve import calculate_metrics
data = json.load(sys.stdin)
outs = [RequestFuncOutput(success=r["success"], latency=r["latency"], output_tokens=r["output_tokens"],
                          ttft=r["ttft"] or 0.0, itl=r["itl"], prompt_len=r["prompt_tokens"], start_time=r["start_time"])
        for r in data["records"]]
m, _ = calculate_metrics([], outs, data["duration"], None, [90.0, 95.0, 99.0], data["goodput"])
out = {k: float(getattr(m, k)) for k in ("completed", "failed", "request_throughput", "request_goodput",
       "output_throughput", "total_token_throughput")}
for name in ("ttft", "tpot", "itl", "e2el"):
    for s in ("mean", "median", "std"):
        out[f"{s}_{name}_ms"] = float(getattr(m, f"{s}_{name}_ms"))
    for p, v in getattr(m, f"percentiles_{name}_ms"):
        out[f"p{int(p)}_{name}_ms"] = float(v)
print(json.dumps(out))
"""


def test_figures_equal_vllm_calculate_metrics():
    problem = venv_problem(models=())
    if problem:
        pytest.skip(problem)
    rng = random.Random(3)
    records = []
    for i in range(60):
        n = rng.choice([1, 2, 16, 32])
        ttft = rng.uniform(0.01, 0.5)
        itl = [rng.uniform(0.005, 0.05) for _ in range(n - 1)]
        records.append(RequestRecord(True, i * 0.1, ttft + sum(itl), ttft, itl, rng.randint(5, 300), n))
    records += [RequestRecord(False, 1.0, 0.0, None, [], 0, 0, "HTTP 503: busy") for _ in range(3)]
    goodput = {"ttft": 300.0, "tpot": 30.0, "e2el": 900.0}
    payload = {"records": [r.__dict__ for r in records], "duration": 7.5, "goodput": goodput}
    proc = subprocess.run([str(default_venv() / "bin" / "python"), "-c", _SCRIPT], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = summarize_level(records, 7.5, 8, goodput)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
