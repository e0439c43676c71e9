"""``plan``: the capacity planner (``vllm_vertex.planner``) on the command line.

Offline, except with ``--live-prices`` (the price read from the Cloud Billing Catalog API).
"""

from __future__ import annotations

import json
import sys

import click

from vllm_vertex.commands._common import guarded, require_credentials
from vllm_vertex.config import DTYPES
from vllm_vertex.errors import BadInput

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
    ("--dtype", click.Choice(DTYPES), "Weights dtype."),
    ("--kv-cache-dtype", click.Choice(["auto", "fp8", "fp8_e4m3", "fp8_e5m2"]), "KV cache dtype."),
    ("--vllm-version", str, "The serving image's vLLM, e.g. 0.11.2 (default: what the default image carries)."),
    ("--total-size", click.IntRange(1), "Checkpoint bytes (safetensors metadata.total_size); wins over counting."),
]

_FIGURES = [
    ("weights per GPU", "weights_gib_per_gpu", "GiB"),
    ("peak activation", "activation_gib", "GiB"),
    ("KV cache", "available_kv_gib", "GiB"),
    ("KV cache tokens", "kv_cache_tokens", ""),
    ("max_model_len that fits", "max_model_len_that_fits", ""),
    ("max concurrency", "max_concurrency", "requests"),
]
_HARDWARE_NEEDED = (
    "--model-config needs the hardware: --machine-type (e.g. g2-standard-12, 1x NVIDIA_L4), "
    "--accelerator-type (e.g. NVIDIA_L4, with --accelerator-count), or --gpu-memory-gib."
)


def _request_options(func):
    for flag, kind, help_text in reversed(_REQUEST_OPTIONS):
        func = click.option(flag, type=kind, default=None, help=help_text)(func)
    return func


@click.command()
@click.argument("run_file", required=False, default="", metavar="[RUN_FILE]")
@click.option("--preset", default="", help="A preset (its model and hardware), e.g. llama-3.1-8b-instruct.")
@click.option(
    "--model-config", default="", help="A config.json path or folder, or a Hugging Face ID (shipped, or read online)."
)
@click.option("--machine-type", default=None, help="Vertex machine type; sets the GPU type and count it carries.")
@_request_options
@click.option("--enforce-eager", "enforce_eager", flag_value=True, default=None,
              help="vLLM --enforce-eager (no CUDA graphs).")
@click.option("--serving-image", default="",
              help="The serving image; its tag sets the vLLM version (Google's tags, vllm/vllm-openai:vX.Y.Z).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--live-prices", is_flag=True,
              help="Read the hourly price from Google's Cloud Billing Catalog API (needs credentials and "
                   "cloudbilling.googleapis.com enabled) instead of the built-in table.")
@click.option("--region", default="us-central1", show_default=True, help="Region whose price --live-prices reads.")
@guarded
def plan(run_file, preset, model_config, machine_type, serving_image, as_json, live_prices, region, **request):
    """Predict whether vLLM starts and serves max_model_len: exit 0 fits, 1 does not, 2 bad input.

    RUN_FILE plans a run file (what submit would deploy: its model, hardware, vLLM settings and
    replicas); otherwise give --preset or --model-config with the hardware.

    Prints the hardware it assumed (machine, GPUs) and its hourly price. A Hugging Face ID whose
    config is not shipped is read from the Hub (HF_TOKEN for gated repos) when it can be reached.
    With --live-prices the price is Vertex AI's on-demand list price read now from the Cloud Billing
    Catalog API, with the SKUs it adds up; no credentials, the API disabled or refused: exit 2; no
    single SKU for a part of the machine: exit 1, one line each, before any plan is printed.
    """
    from vllm_vertex import planner

    if run_file:
        flags = [flag for flag, value in (("--preset", preset), ("--model-config", model_config),
                                          ("--machine-type", machine_type), ("--serving-image", serving_image))
                 if value]  # fmt: skip
        flags += ["--" + k.replace("_", "-") for k, v in request.items() if v is not None]
        if flags:
            raise BadInput(f"a run file already says what to plan; drop {', '.join(flags)} or edit {run_file}.")
    elif bool(preset) == bool(model_config):
        raise BadInput("give a RUN_FILE, or exactly one of --preset NAME or --model-config PATH|HF_ID.")
    if live_prices:
        from vllm_vertex import hardware

        if region not in hardware.VERTEX_REGIONS:
            from vllm_vertex.config import closest

            raise BadInput(f"--region {region!r} is not a Vertex AI region.{closest(region, hardware.VERTEX_REGIONS)}")
        require_credentials()
    given = {k: v for k, v in request.items() if v is not None}
    if serving_image:
        given["vllm_version"] = _image_version(serving_image, given.get("vllm_version"))
    if machine_type:
        given.update(_machine_request(machine_type, given))
    rate, rungs = None, None
    if run_file:
        result, rate, region, rungs = _plan_run_file(run_file)
    elif preset:
        result = planner.plan_preset(preset, **given)
    else:
        if not ({"accelerator_type", "gpu_memory_gib"} & given.keys()):
            raise BadInput(_HARDWARE_NEEDED)
        config, total_size = _model_config(model_config)
        given.setdefault("total_size", total_size)
        result = planner.plan(config, **given)
    rate = rate or _rate(result)
    live = _live_price(_machine(result), region) if live_prices else None
    if as_json:
        out = result.to_dict()
        out.update(machine_type=_machine(result), usd_per_hour=rate.usd_per_hour if rate else None,
                   price=rate.text() if rate else None)
        if live is not None:
            out.update(usd_per_hour=live.price.usd_per_hour, price_source=live.source, price_region=region,
                       price_skus=[{"sku_id": c.sku_id, "description": c.description, "quantity": c.quantity,
                                    "unit_price_usd": c.unit_price} for c in live.price.components])
        if rungs is not None:
            out["ladder"] = [r.to_dict() for r in rungs]
        click.echo(json.dumps(out, indent=2, sort_keys=True))
    else:
        _print(result, rate, live)
        _print_ladder(rungs)
    sys.exit(0 if (result.fits if rungs is None else any(r.viable for r in rungs)) else 1)


def _print_ladder(rungs) -> None:
    """The run file's placements, each planned and priced (exit 0 when one of them can deploy)."""
    if rungs is None:
        return
    from vllm_vertex.ladder import ladder_lines

    click.echo("placements (tried in order; each attempt that finds no GPUs is cleaned up, then the next):")
    for line in ladder_lines(rungs):
        click.echo(f"  {line}")


def _plan_run_file(path: str):
    """The plan of a run file's deployment, its rate (every replica billed), its region (to price) and, when it
    has placements, their ladder (``ladder.Rung``s; else None).

    The shipped config when there is one (as submit's offline check), else config.json from the Hub.
    A finding that is not a capacity verdict (max_model_len above the model's context) is bad input.
    """
    from vllm_vertex import capacity, ladder, preflight
    from vllm_vertex.commands._common import load_run

    cfg = load_run(path).config
    report, model_config, where = preflight.offline(cfg), None, "offline"
    if report.plan is None and report.ok:
        model_config, where = _model_config(cfg.model_id)[0], "hub"
        report = preflight.evaluate(cfg, model_config, where)
    if report.plan is None:
        raise BadInput(report.error_text() if report.findings else "; ".join(report.notes))
    rate = capacity.rate(cfg)  # by capacity kind: spot, flex-start and reservations say why they are unpriced
    rungs = ladder.offline_ladder(cfg, model_config, where) if cfg.placements else None
    return report.plan, rate, cfg.region, rungs


def _live_price(machine: str | None, region: str):
    """The catalogue's price of one node of ``machine`` (``LivePrice``); one-line errors otherwise."""
    from vllm_vertex.cloud.billing_catalog import live_node_price

    if machine is None:
        raise click.ClickException("no live price: the plan's hardware is not a Vertex AI machine type.")
    return live_node_price(machine, region)  # a CatalogError exits 2 (set-up) or 1, by its class


def _image_version(image: str, version: str | None) -> str:
    """The vLLM version a serving image carries (``recipes.vllm_version_of``); one of the two flags only."""
    from vllm_vertex import recipes

    if version:
        raise BadInput("give --vllm-version or --serving-image, not both (the image's tag sets the version).")
    found = recipes.vllm_version_of(image)
    if found == "auto":
        click.echo(f"note: the vLLM inside {image} is not known; planned with the default image's.", err=True)
    return found


def _machine_request(machine_type: str, given: dict) -> dict:
    """The planner fields a machine type implies (its GPU type, and its GPU count when it has one)."""
    from vllm_vertex import hardware

    machine = hardware.MACHINE_TYPES.get(machine_type)
    if machine is None:
        from vllm_vertex.config import closest

        raise BadInput(f"--machine-type {machine_type!r} is not a GPU machine type Vertex serves on."
                       f"{closest(machine_type, hardware.MACHINE_TYPES)}")  # fmt: skip
    out = {"machine_type": machine_type, "accelerator_type": given.get("accelerator_type", machine.accelerator_type)}
    if "accelerator_count" not in given and len(machine.accelerator_counts) == 1:
        out["accelerator_count"] = machine.accelerator_counts[0]
    return out


def _model_config(name: str) -> tuple[dict, int | None]:
    """A shipped config, a local file, or (for a Hub ID not shipped) config.json read from the Hub, with the
    checkpoint's ``total_size`` where known (shipped index, or the Hub's safetensors index)."""
    import os
    import pathlib

    from vllm_vertex import planner
    from vllm_vertex.config import HF_ID_RE

    if planner.shipped_config(name) is not None or pathlib.Path(name).exists() or not HF_ID_RE.match(name):
        return planner.load_model_config(name), planner.checkpoint_total_size(name)
    from vllm_vertex.cloud.hub import inspect_hf
    from vllm_vertex.errors import SourceError

    try:
        source = inspect_hf(name, os.environ.get("HF_TOKEN") or None)
    except Exception as err:  # offline, refused, missing: every way the Hub read fails gets the same one line
        why = err.cause.rstrip(".") if isinstance(err, SourceError) else f"{type(err).__name__}: {err}"[:160]
        raise BadInput(
            f"{name} is not shipped offline and its config.json could not be read from the Hugging Face Hub "
            f"({why}). Download config.json and pass --model-config PATH (set HF_TOKEN for gated repos)."
        ) from None
    if source.config is None:
        raise BadInput(f"{name} on the Hugging Face Hub has no config.json; pass --model-config PATH.")
    click.echo(f"read config.json of {name} from the Hugging Face Hub", err=True)
    return source.config, source.total_size


def _machine(result) -> str | None:
    """The machine type the plan assumed: the one given, else the smallest that carries the GPUs."""
    from vllm_vertex import hardware

    req = result.request
    if req.machine_type:
        return req.machine_type
    fitting = [
        m
        for m in hardware.MACHINE_TYPES.values()
        if m.accelerator_type == req.accelerator_type and req.accelerator_count in m.accelerator_counts
    ]
    return min(fitting, key=lambda m: m.vcpus).name if fitting else None


def _rate(result):
    from vllm_vertex import pricing

    machine = _machine(result)
    return pricing.rate_for(machine) if machine else None


def _print(result, rate, live=None) -> None:
    req = result.request
    machine = _machine(result)
    gpus = f"{req.accelerator_count}x {req.accelerator_type or 'GPU'} ({result.gpu_memory_gib:,.2f} GiB each)"
    assumed = "" if req.machine_type or not machine else " (smallest that carries them; --machine-type to choose)"
    click.echo(f"hardware: {machine or 'no Vertex machine type'} with {gpus}{assumed}")
    if live is not None:
        price = live.price
        from vllm_vertex.pricing import price_text

        label = f"live: Vertex AI prediction, on-demand list price in {price.region}; {live.source}"
        click.echo(f"price: {price_text(price.usd_per_hour, label)} for 1 replica of {price.machine_type}")
        click.echo(f"  SKUs: {'; '.join(c.text() for c in price.components)}")
    else:
        hint = "; --live-prices reads Google's current price" if rate else ""
        click.echo(f"price: {rate.text() if rate else 'unknown (hardware Vertex does not offer)'}{hint}")
    click.echo(f"verdict: {result.verdict.value} ({'fits' if result.fits else 'does NOT fit'})")
    click.echo(result.message.split(" Unverified (")[0])
    click.echo(f"vLLM: {req.vllm_version} (profile {result.vllm_profile}); model family: {result.family}")
    for reason in result.unverified_reasons:
        click.echo(f"unverified: {reason} (a gate only warns on this estimate)")
    for label, key, unit in _FIGURES:
        value = getattr(result, key)
        if key == "available_kv_gib" and value < 0:
            click.echo(f"  {label}: none (short by {-value:,.2f} GiB)")
        elif isinstance(value, float):
            click.echo(f"  {label}: {value:,.2f} {unit}".rstrip())
        else:
            click.echo(f"  {label}: {value:,}")
    for note in result.warnings:
        click.echo(f"warning: {note}")
