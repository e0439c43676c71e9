"""``plan``: the capacity planner (``vllm_vertex.planner``) on the command line. Offline."""

from __future__ import annotations

import json
import sys

import click

from vllm_vertex.commands._common import BadInput, guarded

__all__ = ["plan"]

# Options that map one-to-one onto ``planner.PlanRequest`` fields (None = not given).
_REQUEST_OPTIONS = [
    ("--accelerator-type", str, "Vertex GPU enum, e.g. NVIDIA_L4."),
    ("--accelerator-count", click.IntRange(1), "GPUs per replica (= tensor parallel size)."),
    ("--gpu-memory-gib", click.FloatRange(min=0, min_open=True), "Memory per GPU, for other hardware."),
    ("--gpu-memory-utilization", click.FloatRange(0, 1, min_open=True), "vLLM --gpu-memory-utilization."),
    ("--max-model-len", click.IntRange(1), "vLLM --max-model-len."),
    ("--max-num-seqs", click.IntRange(1), "vLLM --max-num-seqs."),
    ("--max-num-batched-tokens", click.IntRange(1), "vLLM --max-num-batched-tokens."),
    ("--dtype", click.Choice(["auto", "bfloat16", "float16", "half", "float32", "float"]), "Weights dtype."),
    ("--kv-cache-dtype", click.Choice(["auto", "fp8", "fp8_e4m3", "fp8_e5m2"]), "KV cache dtype."),
]

_FIGURES = [
    ("weights per GPU", "weights_gib_per_gpu", "GiB"),
    ("peak activation", "activation_gib", "GiB"),
    ("KV cache", "available_kv_gib", "GiB"),
    ("KV cache tokens", "kv_cache_tokens", ""),
    ("max_model_len that fits", "max_model_len_that_fits", ""),
    ("max concurrency", "max_concurrency", "requests"),
]


def _request_options(func):
    for flag, kind, help_text in reversed(_REQUEST_OPTIONS):
        func = click.option(flag, type=kind, default=None, help=help_text)(func)
    return func


@click.command()
@click.option("--preset", default="", help="A preset (its model and hardware), e.g. llama-3.1-8b-instruct.")
@click.option("--model-config", default="", help="A config.json path or folder, or a Hugging Face ID shipped offline.")
@_request_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@guarded
def plan(preset, model_config, as_json, **request):
    """Predict whether vLLM starts and serves max_model_len: exit 0 fits, 1 does not, 2 bad input."""
    from vllm_vertex import planner

    if bool(preset) == bool(model_config):
        raise BadInput("give exactly one of --preset NAME or --model-config PATH|HF_ID.")
    given = {k: v for k, v in request.items() if v is not None}
    if preset:
        result = planner.plan_preset(preset, **given)
    else:
        result = planner.plan(planner.load_model_config(model_config), **given)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        _print(result)
    sys.exit(0 if result.fits else 1)


def _print(result) -> None:
    click.echo(f"verdict: {result.verdict.value} ({'fits' if result.fits else 'does NOT fit'})")
    click.echo(result.message)
    for label, key, unit in _FIGURES:
        value = getattr(result, key)
        click.echo(f"  {label}: {value:,.2f} {unit}".rstrip() if isinstance(value, float) else f"  {label}: {value:,}")
    for note in result.warnings:
        click.echo(f"warning: {note}")
