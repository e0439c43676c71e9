"""``status RUN`` and ``follow RUN``: where a run stands, reattaching after Ctrl-C, and how it ended."""

from __future__ import annotations

import json
import re
import sys
import traceback

import click

from vllm_vertex.commands._common import (
    debugging,
    guarded,
    location_for,
    location_options,
    require_credentials,
)
from vllm_vertex.errors import BadInput

__all__ = ["finish", "follow", "json_option", "live_prices_option", "run_name", "status"]

_NAME = re.compile(r"^projects/[a-z0-9.:-]+/locations/[a-z0-9-]+/pipelineJobs/[a-z][-a-z0-9]{0,127}\Z")
_URL = re.compile(
    r"/locations/(?P<region>[^/]+)/pipelines/runs/(?P<id>[a-z][-a-z0-9]{0,127})\?(?:.*&)?project=(?P<p>[^&]+)"
)
_ID = re.compile(r"^[a-z][-a-z0-9]{0,127}\Z")


def json_option(func):
    """``--json``: print one JSON document on stdout (progress goes to stderr)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout; progress on stderr.")(func)


# How the end of a run does without the catalogue (ends the "API disabled" messages).
_OPT_OUT = "pass --no-live-prices to skip this lookup"
_CATALOG_DEADLINE = 30.0  # seconds of retries on transient errors: a price is not worth a long wait


def live_prices_option(func):
    """``--live-prices/--no-live-prices``: read a kept deployment's hourly price at the end of the run."""
    return click.option(
        "--live-prices/--no-live-prices", "live_prices", default=True, show_default=True,
        help="When the run keeps an on-demand deployment, read its hourly list price from the Cloud Billing "
             "Catalog API, which wins over the built-in table (one call at the end; never when nothing is kept).",
    )(func)


def run_name(ref: str, project: str = "", region: str = "") -> str:
    """``projects/P/locations/L/pipelineJobs/ID`` from that name, the run's console URL, or its ID with a location.

    Raises:
        BadInput: none of those forms, or an ID without --project/--region.
    """
    ref = ref.strip()
    if _NAME.match(ref):
        return ref
    found = _URL.search(ref)
    if found:
        return f"projects/{found['p']}/locations/{found['region']}/pipelineJobs/{found['id']}"
    if not _ID.match(ref):
        raise BadInput(f"{ref!r} is not a run: give projects/P/locations/L/pipelineJobs/ID, its console URL, "
                       "or its ID with --project and --region.")  # fmt: skip
    if not (project and region):
        raise BadInput(f"the run ID {ref} needs the project and region: pass --project and --region.")
    return f"projects/{project}/locations/{region}/pipelineJobs/{ref}"


def finish(job_name: str, poll_seconds: float, as_json: bool, extra: dict | None = None,
           live_prices: bool = True) -> int:
    """Follows the run to its end and prints how it ended; returns the exit code.

    0: the run succeeded and the smoke tests passed; 1: it did not; 130: interrupted (Ctrl-C
    asks whether to cancel the run; ``vllm-vertex follow RUN`` reattaches). With ``live_prices``,
    a kept on-demand deployment is priced from the Cloud Billing Catalog
    (one read; a failure only adds its reason to the summary and never changes the exit code).
    """
    from vllm_vertex.cloud import jobs

    def log(line: str) -> None:
        click.echo(line, err=as_json)

    try:
        job = jobs.follow(job_name, log=log, poll_seconds=poll_seconds)
    except KeyboardInterrupt:
        if click.confirm(f"\nCancel run {job_name}?", default=False, err=as_json):
            jobs.cancel(job_name)
            log("cancel requested; the exit handler removes what the run created.")
        else:
            log(f"the run goes on; reattach with: vllm-vertex follow {job_name}")
        return 130
    result = jobs.outcome(job)
    if live_prices and result.wants_live_price:
        log("reading the kept deployment's hourly price from the Cloud Billing Catalog API (--no-live-prices skips)")
        result.live_price = catalog_rate(result.machine_type, result.region)
    _print(result, as_json, extra)
    return 0 if result.ok else 1


def catalog_rate(machine_type: str, region: str):
    """``finish.CatalogRate``: the catalogue's node price, or the one-line reason (never raises).

    Any failure (API disabled, refused, no single SKU, a Google or network error, even a bug) is
    the reason, with its fix where there is one; ``--debug`` also prints the traceback.
    """
    from vllm_vertex.cloud.billing_catalog import live_node_price  # light: the client loads inside
    from vllm_vertex.errors import CatalogError
    from vllm_vertex.finish import CatalogRate
    from vllm_vertex.redact import mask

    try:
        live = live_node_price(machine_type, region, opt_out=_OPT_OUT, deadline=_CATALOG_DEADLINE)
    except KeyboardInterrupt:  # Ctrl-C while reading a price skips the price, not the run's summary
        return CatalogRate(region, problem=f"interrupted before the catalogue answered; {_OPT_OUT}")
    except Exception as err:  # a price is never worth failing the command over
        if debugging():
            click.echo(mask(traceback.format_exc()).rstrip(), err=True)
        reason = str(err) if isinstance(err, CatalogError) else _unexpected(err)
        return CatalogRate(region, problem=mask(" ".join(reason.split())))
    price = live.price
    return CatalogRate(region, price.usd_per_hour, live.source, price.sku_ids)


def _unexpected(err: Exception) -> str:
    """One line for a failure other than ``CatalogError``: credentials, a Google API error, the network, a bug."""
    from vllm_vertex.cloud import auth

    explained = auth.explain(err)
    if explained:
        return explained
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    what = f"{type(err).__name__}: {text}"[:300] if text else type(err).__name__
    return f"the Cloud Billing Catalog API could not be read ({what}); retry later, or {_OPT_OUT}"


def _print(result, as_json: bool, extra: dict | None = None) -> None:
    if as_json:
        click.echo(json.dumps({**(extra or {}), **result.to_dict()}, indent=2, sort_keys=True))
        return
    for line in result.lines():
        click.echo(line)


@click.command()
@click.argument("run_ref", metavar="RUN")
@location_options
@json_option
@live_prices_option
@click.option("--poll-seconds", default=15.0, hidden=True, help="Seconds between polls while following.")
@guarded
def follow(run_ref, project, region, as_json, live_prices, poll_seconds):
    """Follow RUN to its end (reattach after Ctrl-C): task states, deploy stages, then the outcome.

    RUN is projects/P/locations/L/pipelineJobs/ID, the run's console URL, or its ID with
    --project and --region. Exit 0 only if the run succeeded and the smoke tests passed.
    """
    name = run_name(run_ref, *location_for(run_ref, project, region))
    require_credentials()
    sys.exit(finish(name, poll_seconds, as_json, live_prices=live_prices))


@click.command()
@click.argument("run_ref", metavar="RUN")
@location_options
@json_option
@guarded
def status(run_ref, project, region, as_json):
    """Show where RUN stands: its state, each task's, the deploy stage, and the outcome so far.

    Exit 0 when the run succeeded with passing smoke tests, 1 when it failed, 3 while it runs.
    """
    from vllm_vertex.cloud import jobs

    name = run_name(run_ref, *location_for(run_ref, project, region))
    require_credentials()
    job = jobs.get(name)
    result = jobs.outcome(job)
    tasks = {t.task_name: t.state.name for t in job.job_detail.task_details}
    stage = jobs.deploy_stage(result.endpoint) if result.endpoint else ""
    if as_json:
        _print(result, True, {"tasks": tasks, "deploy_stage": stage})
    else:
        click.echo(f"{job.name}: {result.state}")
        for task, state in tasks.items():
            click.echo(f"  {task}: {state}" + (f" (stage {stage})" if task == jobs.DEPLOY_TASK and stage else ""))
        if result.ended:
            _print(result, False)
    sys.exit(0 if result.ok else 1 if result.ended else 3)
