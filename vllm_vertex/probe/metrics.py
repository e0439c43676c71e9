"""Figures of one concurrency level, defined exactly as ``vllm bench serve`` defines them.

Source: ``vllm/benchmarks/serve.py`` (``calculate_metrics``, ``benchmark``) and
``vllm/benchmarks/lib/endpoint_request_func.py`` (``async_request_openai_chat_completions``):

- TTFT: client time to the first streamed chunk that carries ``choices``.
- ITL: every later chunk's gap to the previous one (per chunk, not per token), pooled over requests.
- E2EL: client time to the last chunk that carries ``choices``.
- TPOT: ``(E2EL - TTFT) / (output_tokens - 1)``, only for requests with more than one output token.
- Output tokens: the server's ``usage.completion_tokens``.
- Throughputs: completed requests, output tokens, prompt + output tokens, each divided by the level's
  duration (first request sent to last answer), successful requests only.
- Goodput: requests meeting every per-request limit (TTFT, TPOT — 0 when one token —, E2EL) per second.
- Statistics: numpy's mean, median, population std and linear-interpolated percentiles, in ms.

Where vLLM differs by design: an empty sample gives ``None`` here (vLLM prints 0), so a level with no
successful request cannot pass a latency SLO; a response without ``usage`` counts its content chunks
(vLLM re-tokenizes the text, which needs the tokenizer).
On endpoints that cannot stream (shared Vertex endpoints) TTFT is **estimated** from the E2EL of
``max_tokens=1`` requests sent within the same load, and flagged ``ttft_estimated``; TPOT and ITL are
not measured there.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from vllm_vertex.probe.records import RequestRecord

__all__ = ["METRICS", "PERCENTILES", "STATS", "percentile", "stats_ms", "summarize_level"]

METRICS = ("ttft", "tpot", "itl", "e2el")
PERCENTILES = (90, 95, 99)
STATS = ("mean", "median", "std", *(f"p{p}" for p in PERCENTILES))


def percentile(values: Sequence[float], p: float) -> float:
    """``numpy.percentile(values, p)`` with its default linear interpolation."""
    if not values:
        raise ValueError("percentile of an empty sample")
    xs = sorted(values)
    rank = (len(xs) - 1) * p / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)


def stats_ms(values: Sequence[float], name: str) -> dict[str, float | None]:
    """``{mean,median,std,p90,p95,p99}_{name}_ms`` of ``values`` (seconds); ``None`` for an empty sample."""
    if not values:
        return {f"{s}_{name}_ms": None for s in STATS}
    n = len(values)
    mean = math.fsum(values) / n
    out: dict[str, float | None] = {
        f"mean_{name}_ms": mean * 1000,
        f"median_{name}_ms": percentile(values, 50) * 1000,
        f"std_{name}_ms": math.sqrt(math.fsum((v - mean) ** 2 for v in values) / n) * 1000,
    }
    out.update({f"p{p}_{name}_ms": percentile(values, p) * 1000 for p in PERCENTILES})
    return out


def _output_len(rec: RequestRecord) -> int:
    if rec.output_tokens:
        return rec.output_tokens
    return len(rec.itl) + 1 if rec.ttft is not None else 1


def _error_kinds(records: Iterable[RequestRecord]) -> dict[str, int]:
    return dict(Counter(r.error.splitlines()[0][:160] if r.error else "unknown" for r in records).most_common(5))


def summarize_level(
    records: Sequence[RequestRecord],
    duration_s: float,
    concurrency: int,
    goodput_ms: dict[str, float] | None = None,
    streaming: bool = True,
) -> dict[str, Any]:
    """The level's figures under vLLM's JSON names.

    Args:
        records: Every request of the level; ``kind="main"`` ones are counted, ``"ttft_estimate"`` ones
            only feed the TTFT estimate (non-streaming endpoints).
        duration_s: First request sent to last answer, seconds.
        concurrency: Requests kept in flight.
        goodput_ms: Per-request limits in ms, keys among ``ttft``, ``tpot``, ``e2el`` (vLLM's ``--goodput``).
        streaming: Whether the requests were streamed (all figures) or not (E2EL, throughput, TTFT estimate).
    """
    main = [r for r in records if r.kind == "main"]
    ok = [r for r in main if r.success]
    failed = [r for r in main if not r.success]
    out_lens = [_output_len(r) for r in ok]
    ttfts = [r.ttft for r in ok if r.ttft is not None]
    tpots, all_tpots = [], []
    for r, n in zip(ok, out_lens, strict=False):
        tpot = 0.0
        if n > 1 and r.ttft is not None:
            tpot = (r.latency - r.ttft) / (n - 1)
            tpots.append(tpot)
        all_tpots.append(tpot)
    itls = [gap for r in ok for gap in r.itl]
    e2els = [r.latency for r in ok]
    estimated = not streaming
    if estimated:
        ttfts = [r.latency for r in records if r.kind == "ttft_estimate" and r.success]
    total_in, total_out = sum(r.prompt_tokens for r in ok), sum(out_lens)
    dur = duration_s if duration_s > 0 else math.inf  # no time measured: throughputs 0
    level: dict[str, Any] = {
        "concurrency": concurrency,
        "streaming": streaming,
        "ttft_estimated": estimated,
        "num_requests": len(main),
        "completed": len(ok),
        "failed": len(failed),
        "error_rate": len(failed) / len(main) if main else 0.0,
        "duration": duration_s,
        "total_input_tokens": total_in,
        "total_output_tokens": total_out,
        "mean_input_tokens": total_in / len(ok) if ok else None,
        "mean_output_tokens": total_out / len(ok) if ok else None,
        "request_throughput": len(ok) / dur,
        "request_goodput": _goodput(ok, ttfts if not estimated else [], all_tpots, e2els, goodput_ms, dur),
        "output_throughput": total_out / dur,
        "total_token_throughput": (total_in + total_out) / dur,
    }
    level.update(stats_ms(ttfts, "ttft"))
    level.update(stats_ms(tpots if streaming else [], "tpot"))
    level.update(stats_ms(itls if streaming else [], "itl"))
    level.update(stats_ms(e2els, "e2el"))
    if estimated:
        level["ttft_estimate_requests"] = len(ttfts)
    level["errors"] = _error_kinds(failed) if failed else {}
    return level


def _goodput(
    ok: Sequence[RequestRecord],
    ttfts: Sequence[float],
    all_tpots: Sequence[float],
    e2els: Sequence[float],
    limits_ms: dict[str, float] | None,
    dur: float,
) -> float | None:
    """vLLM's ``request_goodput``: a request is good when every given limit holds (``<=``)."""
    if not limits_ms:
        return None
    columns: list[tuple[Sequence[float], float]] = []
    if "ttft" in limits_ms and len(ttfts) == len(ok):
        columns.append((ttfts, limits_ms["ttft"] / 1000))
    if "tpot" in limits_ms and len(ttfts) == len(ok):
        columns.append((all_tpots, limits_ms["tpot"] / 1000))
    if "e2el" in limits_ms:
        columns.append((e2els, limits_ms["e2el"] / 1000))
    if not columns:
        return None
    good = sum(all(col[i] <= limit for col, limit in columns) for i in range(len(ok)))
    return good / dur


def client_note(level: dict[str, Any]) -> str | None:
    """A warning when the probe's own event loop was late enough to show in the level's latencies.

    ``client_loop_lag_p99_ms`` is how late, at p99, the client's event loop woke a 5 ms timer during the
    level: a client busy with its own work takes up chunks (and sends requests) that much late. Below
    2 ms, or 5 % of the median TTFT (E2EL when not streamed), it cannot move a figure a user would act on.
    """
    lag = level.get("client_loop_lag_p99_ms")
    if lag is None:
        return None
    base = level.get("median_ttft_ms") if level.get("median_ttft_ms") is not None else level.get("median_e2el_ms")
    if lag <= max(2.0, 0.05 * (base or 0.0)):
        return None
    return (
        f"concurrency {level['concurrency']}: the probe's own event loop was up to {lag:.1f} ms late (p99), so "
        "its latencies may include that much client delay: run it from a machine with more free CPU"
    )
