"""``presets``, ``endpoints``, ``runs`` and ``logs``: find what can run, what runs, what ran and what it said."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import click

from vllm_vertex.commands._common import guarded, location_options, require_credentials, require_location
from vllm_vertex.commands.follow import json_option, run_name
from vllm_vertex.errors import BadInput

__all__ = ["endpoints", "logs", "presets", "runs"]


def _clean(text: object) -> str:
    """``text`` with credentials masked and control characters escaped (a cloud name cannot move the cursor)."""
    from vllm_vertex.redact import mask

    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in mask(str(text)))


def _say(line: object = "", err: bool = False) -> None:
    click.echo(_clean(line), err=err)


def _json(value: object) -> None:
    from vllm_vertex.redact import mask

    click.echo(mask(json.dumps(value, indent=2, sort_keys=True)))


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(_clean(c)) for c in column) for column in zip(header, *rows, strict=True)]
    return ["  ".join(_clean(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.2f}"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours < 48 else f"{hours // 24}d{hours % 24:02d}h"


def _price_source(rate) -> str:
    """Where the hourly figure comes from, or where to look when unknown."""
    if rate.usd_per_hour is not None:
        return rate.label()  # its kind (a prediction SKU, or an estimate) and its source
    from vllm_vertex.pricing import PRICING_URL

    return f"unknown: see {PRICING_URL}"


@click.command()
@json_option
@guarded
def presets(as_json):
    """List every preset: model, machine, GPUs, max_model_len and the price per hour with its source (offline)."""
    from vllm_vertex import pricing
    from vllm_vertex.recipes import PRESETS

    rows: list[dict[str, Any]] = []
    for name, recipe in sorted(PRESETS.items()):
        rate = pricing.rate_for(recipe.machine_type)
        rows.append({"preset": name, "model": recipe.model_id, "machine_type": recipe.machine_type,
                     "accelerator_type": recipe.accelerator_type, "accelerator_count": recipe.accelerator_count,
                     "max_model_len": recipe.max_model_len, "usd_per_hour": rate.usd_per_hour,
                     "price_source": _price_source(rate)})  # fmt: skip
    if as_json:
        _json(rows)
        return
    header = ["PRESET", "MODEL", "MACHINE", "GPUS", "MAX_LEN", "$/H", "PRICE SOURCE"]
    body = [[r["preset"], r["model"], r["machine_type"], f"{r['accelerator_count']}x {r['accelerator_type']}",
             str(r["max_model_len"]), _usd(r["usd_per_hour"]), r["price_source"]] for r in rows]  # fmt: skip
    for line in _table(header, body):
        _say(line)


@click.command()
@location_options
@click.option("--all", "show_all", is_flag=True, help="Also show endpoints vllm-vertex did not create (read-only).")
@json_option
@guarded
def endpoints(project, region, show_all, as_json):
    """List the deployments billing now: endpoint, model, machine, replicas, age, $/h, run label, teardown command.

    Only endpoints labelled managed-by=vllm-vertex that have a model deployed, unless --all, which also
    lists the others, marked read-only (vllm-vertex never tears them down).
    """
    from vllm_vertex.cloud import listing

    project, region = require_location(project, region)
    require_credentials()
    found = listing.deployments(project, region, include_foreign=show_all)
    if as_json:
        _json([d.to_dict() for d in found])
        return
    if not found:
        _say(f"no deployments billing now in {project}/{region}" + ("" if show_all else " made by vllm-vertex"))
        return
    header = ["ENDPOINT", "MODEL", "MACHINE", "REPLICAS", "AGE", "$/H", "RUN LABEL"]
    rows = [[d.endpoint.rsplit("/", 1)[-1] + ("" if d.managed else " (read-only)"), d.model,
             d.machine_type or "-", str(d.replicas), _age(d.age_seconds), _usd(d.usd_per_hour), d.run_label or "-"]
            for d in found]  # fmt: skip
    for line in _table(header, rows):
        _say(line)
    total = [d.usd_per_hour for d in found if d.managed]
    if total and None not in total:
        _say(f"total: ${sum(t for t in total if t is not None):.2f}/h for {len(total)} deployment(s) of vllm-vertex")
    for d in found:
        _say(f"  {d.endpoint}: " + (f"remove with: {d.teardown}" if d.managed else "not made by vllm-vertex; "
                                    "read-only here"))  # fmt: skip


@click.command()
@location_options
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="Newest runs to show.")
@json_option
@guarded
def runs(project, region, limit, as_json):
    """List recent runs of vllm-vertex: state, start, duration, what each keeps deployed and its cost so far."""
    from vllm_vertex.cloud import listing

    project, region = require_location(project, region)
    require_credentials()
    found = listing.runs(project, region, limit)
    if as_json:
        _json([r.to_dict() for r in found])
        return
    if not found:
        _say(f"no runs of vllm-vertex in {project}/{region}")
        return
    header = ["RUN", "STATE", "START", "DURATION", "KEEPS", "COST SO FAR"]
    rows = [[r.name.rsplit("/", 1)[-1], r.state, r.start[:19].replace("T", " ") or "-", _age(r.duration_seconds),
             ", ".join(d.endpoint.rsplit("/", 1)[-1] for d in r.keeps) or "-",
             _usd(r.cost_so_far_usd) if r.keeps else "-"] for r in found]  # fmt: skip
    for line in _table(header, rows):
        _say(line)


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--step", default="", help="Only this step's log (a task name, e.g. place-and-deploy).")
@click.option("--serving", is_flag=True, help="Also the serving container's log of the run's endpoint.")
@click.option("--follow", "follow_", is_flag=True, help="Keep printing new lines until the run ends (Ctrl-C stops).")
@click.option("--poll-seconds", default=10.0, hidden=True, help="Seconds between reads while following.")
@location_options
@json_option
@guarded
def logs(run_ref, step, serving, follow_, poll_seconds, project, region, as_json):
    """Print RUN's step logs (and with --serving the serving container's) from Cloud Logging, oldest first.

    RUN is projects/P/locations/L/pipelineJobs/ID, its console URL, or its ID with --project and
    --region. --follow reads again every few seconds until the run ends; Ctrl-C exits 130.
    """
    from vllm_vertex import clock
    from vllm_vertex.cloud import jobs, listing

    if as_json and follow_:
        raise BadInput("--json and --follow do not go together: --json prints one document at the end.")
    name = run_name(run_ref, project, region)
    require_credentials()
    job = jobs.get(name)
    steps = [t.task_name for t in job.job_detail.task_details]
    if step and step not in steps:
        raise BadInput(f"run {name} has no step {step!r}; its steps: {', '.join(steps) or '(none started yet)'}.")
    seen: set[tuple[str, str, str]] = set()
    shown: list[dict] = []
    try:
        while True:
            for line in listing.run_logs(job, step, serving):
                key = (line.source, line.insert_id, line.timestamp)
                if key in seen:
                    continue
                seen.add(key)
                if as_json:
                    shown.append(dataclasses.asdict(line))
                else:
                    _say(f"{line.timestamp[:23]} {line.source} {line.severity}: {line.text}")
            if not follow_ or job.state.name in jobs.TERMINAL:
                break
            clock.sleep(poll_seconds)
            job = jobs.get(name)
    except KeyboardInterrupt:
        _say("stopped following; the run goes on", err=True)
        sys.exit(130)
    if as_json:
        _json(shown)
    elif not seen:
        _say(f"no log lines for {name}" + (f" step {step}" if step else ""), err=True)
