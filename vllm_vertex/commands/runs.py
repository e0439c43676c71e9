"""``submit`` and ``schedule``: runs of the pipeline from a reviewed run file."""

from __future__ import annotations

import json
import sys

import click

from vllm_vertex.commands import _common
from vllm_vertex.commands._common import guarded, location_options, submission
from vllm_vertex.commands._dry import DRY_RUN, describe, show
from vllm_vertex.commands.follow import finish, json_option, live_prices_option
from vllm_vertex.errors import BadInput

__all__ = ["schedule", "submit"]

_CONFIG = click.argument("config_file", metavar="CONFIG", type=click.Path(dir_okay=False))
_YAML = click.option(
    "--yaml", "yaml_path", type=click.Path(exists=True, dir_okay=False), help="Use this compiled pipeline."
)
_CANARY = click.option("--canary", is_flag=True, help="The canary pipeline: smoke-test canary.endpoint only.")
_ENDPOINT = click.option("--endpoint", default="", help="With --canary: the endpoint (overrides canary.endpoint).")
_NO_PLAN = click.option(
    "--no-plan", is_flag=True, help="Skip the offline capacity plan (a run that cannot fit is refused without it)."
)


@click.command()
@_CONFIG
@_YAML
@click.option("--wait", is_flag=True, help="Follow the run; exit 0 only if it succeeded and the smoke tests passed.")
@_CANARY
@_ENDPOINT
@_NO_PLAN
@DRY_RUN
@location_options
@json_option
@live_prices_option
@click.option("--poll-seconds", default=15.0, hidden=True, help="Seconds between polls while following.")
@guarded
def submit(
    config_file, yaml_path, wait, canary, endpoint, no_plan, dry_run, project, region, as_json, live_prices,
    poll_seconds,
):
    """Submit a run described by CONFIG (a run file, see examples/); print its console URL.

    Compiles the pipeline from CONFIG unless --yaml gives one. With --wait, prints one line per
    task state change, then the smoke-test verdict and figures, and what the run kept with its
    hourly price (the Cloud Billing Catalog API's list price, which wins over the built-in table when read;
    --no-live-prices skips it); Ctrl-C offers to cancel the run.
    With --dry-run, validates, plans and compiles, prints what would be sent and exits 0.
    """
    from vllm_vertex import naming

    if dry_run and wait:
        raise BadInput("--dry-run sends nothing, so there is nothing to --wait for: give one of them.")
    run = _common.load_run(config_file, project, region, endpoint)
    from vllm_vertex.config import warnings

    for line in warnings(run.config):
        click.echo(line, err=True)
    with submission(run, yaml_path, canary, plan=not no_plan, dry_run=dry_run) as sub:
        if dry_run:
            return show(describe(sub, config=run.config), as_json)
        from vllm_vertex.cloud import jobs

        job = jobs.submit(sub)
    submitted = {
        "name": job.name,
        "console": naming.console_pipeline_run_url(job.name),
        "run_label": naming.run_label_value(job.name),
    }
    if as_json and not wait:
        click.echo(json.dumps(submitted, indent=2, sort_keys=True))
    for key in ("name", "console", "run_label"):
        click.echo(f"{'submitted' if key == 'name' else key.replace('_', ' ')}: {submitted[key]}", err=as_json)
    if wait:
        sys.exit(finish(job.name, poll_seconds, as_json, {"submitted": submitted}, live_prices))
    click.echo(f"follow it: vllm-vertex follow {job.name}", err=as_json)


@click.group()
def schedule():
    """Cron schedules of a run file: create, list, pause, resume, delete."""


@schedule.command("create")
@_CONFIG
@click.option("--cron", default="", help='Cron expression (overrides schedule.cron), e.g. "TZ=Etc/UTC 0 3 * * *".')
@_YAML
@_CANARY
@_ENDPOINT
@_NO_PLAN
@DRY_RUN
@location_options
@guarded
def schedule_create(config_file, cron, yaml_path, canary, endpoint, no_plan, dry_run, project, region):
    """Schedule runs of CONFIG on a cron (max concurrent runs: schedule.max_concurrent_runs, default 1).

    With --dry-run, validates, plans and compiles, prints the schedule that would be created and exits 0.
    """
    from vllm_vertex import configfile

    run = _common.load_run(config_file, project, region, endpoint)
    if cron:
        run.schedule.cron = configfile.validate_cron(cron)
    configfile.require_schedule(run)
    with submission(run, yaml_path, canary, plan=not no_plan, dry_run=dry_run) as sub:
        if dry_run:
            return show(describe(sub, run.schedule, config=run.config))
        from vllm_vertex.cloud import jobs

        created = jobs.create_schedule(sub, run.schedule)
    click.echo(f"created {created.name} ({created.display_name})")
    click.echo(f"cron {created.cron!r}, at most {created.max_concurrent_run_count} run(s) at once")


@schedule.command("list")
@location_options
@json_option
@guarded
def schedule_list(project, region, as_json):
    """List the schedules of a project and region."""
    from vllm_vertex.cloud import jobs

    project, region = _common.require_location(project, region)
    _common.require_credentials()
    found = jobs.list_schedules(project, region)
    if as_json:
        rows = [
            {
                "name": s.name,
                "display_name": s.display_name,
                "state": s.state.name,
                "cron": s.cron,
                "max_concurrent_run_count": s.max_concurrent_run_count,
                "next_run_time": s.next_run_time.isoformat() if s.next_run_time else None,
            }
            for s in found
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for s in found:
        next_run = s.next_run_time.isoformat() if s.next_run_time else "-"
        click.echo(f"{s.name}  {s.state.name}  {s.cron!r}  {s.display_name}  next: {next_run}")
    click.echo(f"{len(found)} schedule(s)")


def _schedule_action(action: str):
    @click.argument("schedule_ref", metavar="SCHEDULE")
    @location_options
    @guarded
    def command(schedule_ref, project, region):
        from vllm_vertex import naming
        from vllm_vertex.cloud import jobs

        name = naming.resource_name(schedule_ref, "schedules", *_common.location_for(schedule_ref, project, region))
        _common.require_credentials()
        jobs.change_schedule(name, action)
        click.echo(f"{action}d {name}")

    command.__doc__ = f"{action.capitalize()} SCHEDULE (its name, or its ID with --project and --region)."
    return schedule.command(action)(command)


for _action in ("pause", "resume", "delete"):
    _schedule_action(_action)
