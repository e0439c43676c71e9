"""Cold start of the real vLLM server: from a local copy of staged weights against a fresh download from the Hub.

    VLLM_VENV=... TINY_MODELS_DIR=... PYTHONPATH=. python3 scripts/bench_cold_start.py \
        [--rounds 2] [--model tiny-llama] [--synthetic-gb 0] [--json]

Two ways to start the vLLM OpenAI server of the vLLM CPU venv (``tests/e2e/vllm_server.py``), ``--rounds``
times each, alternating, every round from scratch:

* ``local copy``: what Google's container does with a ``gs://`` model. The model's folder is in the Cloud
  Storage stand-in; it is copied to a new temporary folder with ``google-cloud-storage`` (the transfer
  manager, 8 threads), then the server starts with ``--model /that/folder``. Both parts are timed.
* ``fresh download``: ``--model org/name`` with an empty ``HF_HOME`` and ``HF_ENDPOINT`` at the fake Hub
  (``tests/fakes/hf_hub.py``) serving the same folder, so vLLM downloads it at start.

The start is the time from spawning the server to its first ``/health`` 200 (as ``VllmServer`` measures it).
``--synthetic-gb G`` adds the same two rows for a Llama of about G GB of random float32 weights (shards of
about 0.5 GB, the tiny model's tokenizer), generated once in the vLLM venv. Prints a table of the medians (or
JSON). Everything is on loopback on this machine: read the figures with docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

MODES = ("local copy", "fresh download")
REPO_ID = "bench/cold-start"  # the repo id the fake Hub serves the model under
SERVER_ARGS = ["--max-num-batched-tokens", "512"]  # bounds the start-up's dummy forward pass (the synthetic model)

# Runs in the vLLM venv: a Llama of ~GB float32 random weights, the tokenizer files copied from a tiny model.
SYNTHETIC = r"""
import json, math, shutil, sys, pathlib, torch
from safetensors.torch import save_file
src, out, gb = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), float(sys.argv[3])
hidden, inter, heads, kv, head_dim = 2048, 5632, 16, 4, 128
cfg = json.loads((src / "config.json").read_text())
per_layer = 2 * hidden * heads * head_dim + 2 * hidden * kv * head_dim + 3 * hidden * inter + 2 * hidden
layers = max(1, round((gb * 1e9 / 4 - 2 * cfg["vocab_size"] * hidden) / per_layer))
cfg.update(hidden_size=hidden, intermediate_size=inter, num_attention_heads=heads, num_key_value_heads=kv,
           head_dim=head_dim, num_hidden_layers=layers)
out.mkdir(parents=True, exist_ok=True)
for p in src.iterdir():
    if p.is_file() and p.name not in ("config.json", ".complete") and not p.name.endswith(".safetensors"):
        shutil.copy(p, out / p.name)
(out / "config.json").write_text(json.dumps(cfg, indent=2))
g = torch.Generator().manual_seed(0)
def w(*shape):
    return torch.randn(*shape, generator=g) * 0.02
groups = [[]]
for i in range(layers):
    if len(groups[-1]) * per_layer * 4 >= 0.5e9:
        groups.append([])
    groups[-1].append(i)
index, total = {}, 0
for n, group in enumerate(groups):
    name = f"model-{n + 1:05d}-of-{len(groups):05d}.safetensors"
    t = {}
    if n == 0:
        t["model.embed_tokens.weight"] = w(cfg["vocab_size"], hidden)
    for i in group:
        p = f"model.layers.{i}."
        t[p + "self_attn.q_proj.weight"] = w(heads * head_dim, hidden)
        t[p + "self_attn.k_proj.weight"] = w(kv * head_dim, hidden)
        t[p + "self_attn.v_proj.weight"] = w(kv * head_dim, hidden)
        t[p + "self_attn.o_proj.weight"] = w(hidden, heads * head_dim)
        t[p + "mlp.gate_proj.weight"] = w(inter, hidden)
        t[p + "mlp.up_proj.weight"] = w(inter, hidden)
        t[p + "mlp.down_proj.weight"] = w(hidden, inter)
        t[p + "input_layernorm.weight"] = torch.ones(hidden)
        t[p + "post_attention_layernorm.weight"] = torch.ones(hidden)
    if n == len(groups) - 1:
        t["model.norm.weight"] = torch.ones(hidden)
        t["lm_head.weight"] = w(cfg["vocab_size"], hidden)
    save_file(t, str(out / name), metadata={"format": "pt"})
    index.update({k: name for k in t})
    total += sum(v.numel() * 4 for v in t.values())
    del t
(out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": index}))
(out / ".complete").write_text("ok")
"""


@dataclass
class Round:
    """One start: its model, mode, copy seconds (local copy only), start seconds and bytes fetched."""

    model: str
    mode: str
    copy_s: float | None
    start_s: float
    fetched_bytes: int


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; a bad value exits with argparse's message (status 2)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="starts per mode and model (default 2)")
    parser.add_argument("--model", default="tiny-llama", help="a tiny model's folder name in TINY_MODELS_DIR")
    parser.add_argument("--synthetic-gb", type=float, default=0.0,
                        help="also a synthetic Llama of about this many GB (0: none)")
    parser.add_argument("--venv", type=Path, default=None, help="the vLLM venv (default: $VLLM_VENV or .venv-vllm)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one start may take (default 900)")
    parser.add_argument("--json", action="store_true", help="print the rounds and medians as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if not 0 <= args.synthetic_gb <= 8:
        parser.error(f"--synthetic-gb must be between 0 and 8 (disk and memory here), got {args.synthetic_gb}")
    if args.timeout <= 0:
        parser.error(f"--timeout must be positive, got {args.timeout}")
    return args


def summarize(rounds: Sequence[Round]) -> list[dict]:
    """One row per (model, mode), in first-seen order: rounds, median copy, start and total seconds, bytes."""
    groups: dict[tuple[str, str], list[Round]] = {}
    for r in rounds:
        groups.setdefault((r.model, r.mode), []).append(r)
    rows = []
    for (model, mode), rs in groups.items():
        copies = [r.copy_s for r in rs if r.copy_s is not None]
        starts = [r.start_s for r in rs]
        totals = [r.start_s + (r.copy_s or 0.0) for r in rs]
        rows.append({"model": model, "mode": mode, "rounds": len(rs),
                     "copy_s": statistics.median(copies) if copies else None,
                     "start_s": statistics.median(starts), "total_s": statistics.median(totals),
                     "start_range_s": (min(starts), max(starts)), "fetched_bytes": max(r.fetched_bytes for r in rs)})
    return rows


def render_table(rows: Sequence[dict]) -> str:
    """A Markdown table of ``summarize``'s rows (medians; the start's range over the rounds)."""
    lines = ["| model | weights fetched | mode | rounds | copy from Cloud Storage | vLLM start to ready | total |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        low, high = r["start_range_s"]
        spread = f" ({low:.1f}–{high:.1f})" if r["rounds"] > 1 else ""
        copy = "–" if r["copy_s"] is None else f"{r['copy_s']:.1f} s"
        lines.append(f"| {r['model']} | {_size(r['fetched_bytes'])} | {r['mode']} | {r['rounds']} | {copy} | "
                     f"{r['start_s']:.1f} s{spread} | {r['total_s']:.1f} s |")
    return "\n".join(lines)


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


# --- the measurement (needs the vLLM venv) ----------------------------------------------------------------------


def _folder_files(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.name != ".complete"}


def _start(server, timeout: float) -> float:
    server.start(timeout=timeout)
    try:
        return float(server.startup_seconds or 0.0)
    finally:
        server.stop()


def _local_round(name: str, folder: Path, bucket, prefix: str, venv: Path, timeout: float, log: Path) -> Round:
    """Copies the staged folder from the stand-in's Cloud Storage to a new temp dir, then starts vLLM on it."""
    import time

    from google.cloud.storage import transfer_manager

    from tests.e2e.vllm_server import VllmServer

    names = [prefix + n for n in _folder_files(folder)]
    with tempfile.TemporaryDirectory(prefix="cold-start-local-") as tmp:
        started = time.monotonic()
        results = transfer_manager.download_many_to_path(
            bucket, names, destination_directory=tmp, worker_type=transfer_manager.THREAD, max_workers=8,
            raise_exception=True)
        copy_s = time.monotonic() - started
        if any(isinstance(r, Exception) for r in results):
            raise RuntimeError(f"copy from Cloud Storage failed: {results}")
        local = Path(tmp) / prefix
        fetched = sum(p.stat().st_size for p in local.iterdir())
        server = VllmServer(local, venv=venv, extra_args=SERVER_ARGS, served_model_name=REPO_ID, log_path=log)
        return Round(name, MODES[0], copy_s, _start(server, timeout), fetched)


def _hub_round(name: str, folder: Path, hub, venv: Path, timeout: float, log: Path) -> Round:
    """Starts vLLM on ``REPO_ID`` with an empty HF_HOME and HF_ENDPOINT at the fake Hub."""
    from tests.e2e.vllm_server import VllmServer

    class HubServer(VllmServer):
        def command(self) -> list[str]:
            cmd = super().command()
            cmd[cmd.index("--model") + 1] = REPO_ID
            return cmd

        def environment(self) -> dict[str, str]:
            env = super().environment()
            for key in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
                env.pop(key, None)  # no token (the fake Hub's repo is public), no cache but the empty HF_HOME
            return env

    with tempfile.TemporaryDirectory(prefix="cold-start-hf-home-") as home:
        env = {"HF_HOME": home, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0",
               "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
        server = HubServer(folder, venv=venv, extra_args=SERVER_ARGS, served_model_name=REPO_ID, log_path=log,
                           env=env)
        sent = hub.sent_bytes
        start_s = _start(server, timeout)
        fetched = hub.sent_bytes - sent
        if not fetched:
            raise RuntimeError(f"vLLM started without downloading from the fake Hub; see {log}")
        return Round(name, MODES[1], None, start_s, fetched)


def _synthetic(gb: float, like: Path, venv: Path) -> Path:
    """The synthetic model's folder (made once, kept under .cache/cold-start)."""
    from tests.e2e.vllm_server import REPO_ROOT

    out = REPO_ROOT / ".cache" / "cold-start" / f"synthetic-{gb:g}gb"
    if not (out / ".complete").exists():
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([str(venv / "bin" / "python"), "-c", SYNTHETIC, str(like), str(out), str(gb)], check=True)
    return out


def measure(args: argparse.Namespace) -> list[Round]:
    """Runs every round; returns them in the order run."""
    from tests.e2e.vllm_server import REPO_ROOT, default_venv, tiny_model_dir, venv_problem
    from tests.fakes.hf_hub import FakeHub
    from tests.standin import VertexStandin
    from vllm_vertex.cloud.context import CloudContext

    venv = args.venv or default_venv()
    problem = venv_problem(venv, models=(args.model,))
    if problem:
        sys.exit(problem)
    models = {args.model: tiny_model_dir(args.model)}
    if args.synthetic_gb:
        models[f"synthetic {args.synthetic_gb:g} GB"] = _synthetic(args.synthetic_gb, models[args.model], venv)
    logs = REPO_ROOT / ".cache" / "vllm-logs"
    rounds: list[Round] = []
    with VertexStandin() as standin, FakeHub() as hub:
        standin.cloud.add_project("bench")
        standin.cloud.add_bucket("bench", "bench-weights")
        standin.cloud.grant("buckets/bench-weights", standin.cloud.caller, "roles/storage.objectAdmin")
        bucket = CloudContext(api_endpoint=standin.url).storage("bench").bucket("bench-weights")
        for n, (name, folder) in enumerate(models.items()):
            files = _folder_files(folder)
            prefix = f"hf/{REPO_ID}/{n}/"
            for file_name, path in files.items():
                bucket.blob(prefix + file_name).upload_from_filename(str(path))
            hub.repos.clear()
            hub.add(REPO_ID, {file_name: path.read_bytes() for file_name, path in files.items()})
            for i in range(args.rounds):
                log = logs / f"cold-start-{n}-{i}"
                timeout = args.timeout
                rounds.append(_local_round(name, folder, bucket, prefix, venv, timeout, log.with_suffix(".gs.log")))
                rounds.append(_hub_round(name, folder, hub, venv, timeout, log.with_suffix(".hub.log")))
                print(f"{name} round {i + 1}: " + ", ".join(f"{r.mode} {r.start_s:.1f} s" for r in rounds[-2:]),
                      file=sys.stderr)
            hub.repos.clear()
    return rounds


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    rounds = measure(args)
    rows = summarize(rounds)
    if args.json:
        print(json.dumps({"rounds": [asdict(r) for r in rounds], "medians": rows}, indent=1))
    else:
        print(render_table(rows))
    print(f"cpus: {os.cpu_count()}, rounds: {args.rounds}, loopback stand-ins", file=sys.stderr)


if __name__ == "__main__":
    main()
