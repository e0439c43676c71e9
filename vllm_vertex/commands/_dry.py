"""``--dry-run`` of ``submit`` and ``schedule create``: what would be sent, with nothing sent.

Everything here is local: it reads the compiled template and the run file's settings, and masks
any credential-shaped value (``redact.mask_value``). No credentials are read, no client is built.
"""

from __future__ import annotations

import json
import re

import click

__all__ = ["DRY_RUN", "describe", "plan_summary", "show"]

DRY_RUN = click.option(
    "--dry-run",
    is_flag=True,
    help="Validate, plan and compile, then print what would be sent; no credentials, no network.",
)


def plan_summary(cfg) -> dict:
    """The run's offline capacity plan and hourly price: verdict, KV cache tokens, ``$X.XX/h (kind, source)``."""
    from vllm_vertex import capacity, preflight

    plan = preflight.offline(cfg).plan
    rate = capacity.rate(cfg)
    return {
        "verdict": plan.verdict.value if plan else None,
        "fits": plan.fits if plan else None,
        "kv_cache_tokens": plan.kv_cache_tokens if plan else None,
        "machine_type": cfg.machine_type,
        "replicas": max(1, cfg.min_replica_count),
        "capacity": capacity.describe(cfg),
        "usd_per_hour": rate.usd_per_hour,
        "price": rate.text(),
        **_ladder(cfg),
    }


def _ladder(cfg) -> dict:
    """``{"ladder": [...]}``: each placement planned and priced offline (``ladder.Rung``); {} without placements."""
    if not cfg.placements:
        return {}
    from vllm_vertex import ladder

    return {"ladder": [r.to_dict() for r in ladder.offline_ladder(cfg)]}


def describe(sub, schedule=None, config=None) -> dict:
    """What ``jobs.submit`` (or ``jobs.create_schedule`` with ``schedule``) would send for ``sub``, masked.

    With ``config`` (the run's ``DeploymentConfig``), a ``plan`` key adds its ``plan_summary``.

    The job ID is a pattern: the SDK's ``{pipeline name}-{YYYYmmddHHMMSS}`` plus the random suffix
    ``jobs.build_job`` adds (None for a schedule: Vertex names the runs it starts).
    """
    import yaml

    from vllm_vertex import naming
    from vllm_vertex.redact import mask_value

    with open(sub.template_path, encoding="utf-8") as f:
        pipeline_name = yaml.safe_load(f)["pipelineInfo"]["name"]
    settings = sub.settings
    display_name = settings.display_name or pipeline_name
    job_id = re.sub("[^-0-9a-z]+", "-", pipeline_name.lower()).strip("-")  # as aiplatform.PipelineJob does
    out = {
        "dry_run": True,
        "parent": sub.parent,
        "display_name": display_name,
        "job_id_pattern": f"{job_id}-YYYYmmddHHMMSS-xxxxxx" if schedule is None else None,
        "pipeline_root": settings.pipeline_root,
        "service_account": settings.service_account or None,
        "network": settings.network or None,
        "labels": {**naming.MANAGED_BY, **settings.labels},
        "enable_caching": False,
        "parameter_values": dict(sorted(sub.parameter_values.items())),
    }
    if config is not None:
        out["plan"] = plan_summary(config)
    if schedule is not None:
        out["schedule"] = {
            "display_name": schedule.display_name or f"{display_name}-schedule",
            "cron": schedule.cron,
            "max_concurrent_run_count": schedule.max_concurrent_runs,
            "max_run_count": schedule.max_runs,
        }
    masked = mask_value(out)
    assert isinstance(masked, dict)  # mask_value keeps a dict a dict
    return masked


def show(described: dict, as_json: bool = False) -> None:
    """Prints ``describe``'s result: one JSON object, or readable lines ending with "nothing was sent"."""
    if as_json:
        click.echo(json.dumps(described, indent=2, sort_keys=True))
        return
    what = "schedule" if "schedule" in described else "pipeline run"
    click.echo(f"dry run: would create this {what} in {described['parent']}")
    keys = ("display_name", "job_id_pattern", "pipeline_root", "service_account", "network")
    for key in (k for k in keys if not (k == "job_id_pattern" and "schedule" in described)):
        click.echo(f"  {key.replace('_', ' ')}: {described[key] or '-'}")
    click.echo("  labels: " + ", ".join(f"{k}={v}" for k, v in described["labels"].items()))
    if "plan" in described:
        p = described["plan"]
        fits = "fits" if p["fits"] else "does NOT fit"
        verdict = (f"{p['verdict']} ({fits}), KV cache tokens {p['kv_cache_tokens']:,}" if p["verdict"]
                   else "not planned offline (no shipped config; the preflight step plans it)")
        click.echo(f"  plan: {verdict}")
        click.echo(f"  price: {p['price']}")
        click.echo(f"  capacity: {p['capacity']}")
        if p.get("ladder"):
            from vllm_vertex.ladder import Rung, ladder_lines

            click.echo("  placements (tried in order; each attempt that finds no GPUs is cleaned up, then the next):")
            for line in ladder_lines([Rung(**r) for r in p["ladder"]]):
                click.echo(f"    {line}")
    if "schedule" in described:
        s = described["schedule"]
        click.echo(f"  schedule: {s['display_name']}, cron {s['cron']!r}, at most {s['max_concurrent_run_count']} "
                   f"run(s) at once, {s['max_run_count'] or 'no'} limit on runs")
    click.echo("  parameters:")
    for key, value in described["parameter_values"].items():
        click.echo(f"    {key}: {json.dumps(value)}")
    click.echo("nothing was sent (dry run: credentials not checked, no network call)")
