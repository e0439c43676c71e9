"""``smoke`` and ``teardown``: operate on endpoints that already exist, without a pipeline."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys

import click

from vllm_vertex.commands._common import (
    guarded,
    load_run,
    location_for,
    location_options,
    require_credentials,
    require_location,
)
from vllm_vertex.commands.follow import json_option
from vllm_vertex.errors import BadInput

__all__ = ["smoke", "teardown"]


@click.command()
@click.argument("endpoint_arg", metavar="[ENDPOINT]", default="", required=False)
@click.option("--endpoint", default="", help="Same as ENDPOINT: projects/P/locations/L/endpoints/ID, or ID.")
@click.option("--base-url", default="", help="Any vLLM/OpenAI-compatible base URL, e.g. http://host:8000/v1.")
@click.option("--model", default="", help="With --base-url: the model name (default: the first one served).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Run file: smoke_* settings apply.")
@click.option("--prompt", default="", help="Prompt of the text checks.")
@click.option("--image-url", default="", help="Also run the image checks with this image.")
@click.option("--no-chat", is_flag=True, help="Skip the chat-completions checks (base models).")
@click.option("--max-tokens", type=click.IntRange(1), default=None, help="Tokens per check.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write the Markdown report here.")
@location_options
@json_option
@guarded
def smoke(
    endpoint_arg,
    endpoint,
    base_url,
    model,
    config_file,
    prompt,
    image_url,
    no_chat,
    max_tokens,
    report_path,
    project,
    region,
    as_json,
):
    """Run the smoke checks against ENDPOINT (or --base-url); exit 0 only if every check passed.

    A Vertex endpoint (shared or dedicated) gets the predict-route and chat checks; a plain
    base URL gets /v1/completions and the chat checks (it has no Vertex predict route).
    """
    from vllm_vertex import report
    from vllm_vertex.cloud.smoke import cost_so_far, run_checks

    def say(line: str) -> None:
        click.echo(line, err=as_json)

    if endpoint_arg and endpoint and endpoint_arg != endpoint:
        raise BadInput(f"two endpoints given ({endpoint_arg} and --endpoint {endpoint}): give one.")
    endpoint = endpoint or endpoint_arg
    if endpoint and not config_file:
        project, region = location_for(endpoint, project, region)
    cfg = _smoke_config(config_file, prompt, image_url, no_chat, max_tokens, project, region)
    target, found = _target(cfg, endpoint or _file_endpoint(config_file, cfg.project, cfg.region), base_url, model, say)
    results = run_checks(target, log=say)
    cost, cost_line = cost_so_far(found) if found is not None else ({}, "")
    if cost_line:
        say(cost_line)
    if report_path:
        model_name = (target.model if base_url else cfg.model_id) or cfg.model_id or "(not given)"
        with open(report_path, "w", encoding="utf-8") as f:
            f.write(report.render_markdown(results, target.label, model_name, (cost_line,)))
        say(f"report written to {report_path}")
    verdict = report.verdict(results)
    say(f"smoke tests {verdict}: {sum(r.passed for r in results)} of {len(results)} checks passed")
    if as_json:
        out = {"target": target.label, "verdict": verdict, "checks": [r.to_dict() for r in results],
               "metrics": {**report.metrics(results), **cost}, "report": report_path or None}  # fmt: skip
        click.echo(json.dumps(out, indent=2))
    sys.exit(0 if verdict == "passed" else 1)


def _smoke_config(config_file, prompt, image_url, no_chat, max_tokens, project, region):
    """The run file's config (or the defaults) with the command-line smoke settings on top."""
    from vllm_vertex.config import DeploymentConfig

    cfg = load_run(config_file, project, region).config if config_file else DeploymentConfig(project, region)
    changes = {"smoke_prompt": prompt, "smoke_image_url": image_url, "smoke_max_tokens": max_tokens}
    cfg = dataclasses.replace(cfg, **{k: v for k, v in changes.items() if v})
    if image_url:
        cfg = dataclasses.replace(cfg, multimodal=True, run_image_checks=True)
    from vllm_vertex.config import secret_problems
    from vllm_vertex.errors import ConfigError

    if secret_problems(cfg):  # a credential in --prompt would be sent to the endpoint and printed back
        raise ConfigError(secret_problems(cfg))
    return dataclasses.replace(cfg, run_chat_checks=cfg.run_chat_checks and not no_chat)


def _file_endpoint(config_file: str | None, project: str, region: str) -> str:
    """The run file's canary endpoint (``project``/``region``: those already resolved for it, said once)."""
    return load_run(config_file, project, region).canary.endpoint if config_file else ""


def _target(cfg, endpoint: str, base_url: str, model: str, say=click.echo):
    """The checks' target and, for a Vertex endpoint, the ``aiplatform_v1.Endpoint`` read (else None)."""
    from vllm_vertex import naming
    from vllm_vertex.cloud.smoke import read_endpoint, target_for

    if bool(endpoint) == bool(base_url):
        raise BadInput(
            "give exactly one of ENDPOINT (a Vertex endpoint, also --endpoint) "
            "or --base-url (an OpenAI-compatible URL)."
        )
    if base_url:
        from vllm_vertex.commands.probe import served_target

        base_url, picked = served_target(base_url, model)  # reachable (else one line, exit 2), /v1, the model
        if not model:
            say(f"model: {picked} (the first {base_url} serves; --model to choose)")
        model = picked
        return dataclasses.replace(target_for(cfg, base_url=base_url), model=model), None
    name = naming.endpoint_resource_name(endpoint, cfg.project, cfg.region)
    require_credentials()
    found = read_endpoint(name)
    say(f"checking {found.name} ({'dedicated' if found.dedicated_endpoint_dns else 'shared'})")
    return target_for(cfg, found.name, found.dedicated_endpoint_dns), found


@click.command()
@click.option("--run-label", default="", help="Remove every endpoint and model with vllm-vertex-run=VALUE.")
@click.option(
    "--endpoint", default="", help="Undeploy everything from this endpoint, delete it and the models vllm-vertex made."
)
@click.option("--keep-models", is_flag=True, help="With --endpoint: keep the models (their env holds the HF token).")
@click.option("--expired", is_flag=True,
              help="Remove every run of vllm-vertex whose endpoint's keep_for_hours has passed (a scheduled sweep).")
@click.option("--yes", is_flag=True, help="Do not ask before deleting.")
@click.option("--force", is_flag=True,
              help="With --endpoint: remove it even without the label managed-by=vllm-vertex (made elsewhere).")
@click.option("--also-in", "also_in", default="",
              help="With --run-label: look in these regions too (comma-separated; the regions of the run's "
                   "placements), or 'all' for every Vertex AI region.")
@location_options
@json_option
@guarded
def teardown(run_label, endpoint, keep_models, expired, yes, force, also_in, project, region, as_json):
    """Remove what a run left: list it, ask (unless --yes), delete; exit 1 if anything is left.

    --endpoint refuses an endpoint without the label managed-by=vllm-vertex (vllm-vertex did not
    create it) unless --force. It also deletes the models deployed there that vllm-vertex uploaded
    (same label), since a Model's container environment holds the HF token; models made otherwise
    are listed and kept. Declining the question removes nothing and exits 0.
    """
    from vllm_vertex import naming
    from vllm_vertex.cloud import teardown as td

    if sum(map(bool, (run_label, endpoint, expired))) != 1:
        raise BadInput("give exactly one of --run-label VALUE, --endpoint NAME or --expired.")
    if run_label:
        naming.check_run_label(run_label)  # it goes into a list filter
    if keep_models and not endpoint:
        raise BadInput("--keep-models goes with --endpoint (--run-label removes everything the run made).")
    if also_in and not run_label:
        raise BadInput("--also-in goes with --run-label (a run's placements may span regions).")

    def say(line: str) -> None:
        click.echo(line, err=as_json)

    kept: list[str] = []
    if run_label:
        project, region = require_location(project, region)
        regions = _regions(region, also_in)
        require_credentials()
        names = [n for r in regions for n in _run_resources(project, r, run_label)]
        remove = functools.partial(td.teardown_regions, project, regions, run_label, log=say)
    elif expired:
        project, region = require_location(project, region)
        require_credentials()
        names, kept, remove = _expired_runs(project, region, say)
    else:
        name = naming.endpoint_resource_name(endpoint, *location_for(endpoint, project, region))
        require_credentials()
        plan = td.plan_endpoint_teardown(name, delete_models=not keep_models)
        labels = ", ".join(f"{k}={v}" for k, v in sorted(plan.labels.items())) or "none"
        if not plan.managed and not force:
            raise BadInput(f"endpoint {plan.endpoint} was not created by vllm-vertex: it lacks the label "
                           f"managed-by=vllm-vertex (its labels: {labels}). Nothing was removed; pass --force "
                           "to remove it anyway.")  # fmt: skip
        say(f"endpoint {plan.endpoint} labels: {labels}"
            + ("" if plan.managed else " (NOT managed-by=vllm-vertex: removing it because of --force)"))  # fmt: skip
        names, kept = plan.to_delete, plan.kept
        remove = functools.partial(td.teardown_endpoint, plan, log=say)
    outcome = {"to_delete": names, "kept": kept, "removed": [], "failed": {}, "declined": False}
    if endpoint:
        outcome["labels"] = plan.labels
    for line in kept:
        say(f"keeping {line}")
    if not names:
        say("nothing to remove")
    else:
        say("will delete:\n" + "\n".join(f"  {n}" for n in names))
        question = "Delete these?" if not endpoint or plan.managed else (
            "Delete these? The endpoint was NOT created by vllm-vertex (no label managed-by=vllm-vertex).")
        if not yes and not click.confirm(question, default=False, err=as_json):
            say("nothing removed")
            outcome["declined"] = True
        else:
            result = remove()
            say(result.summary())
            outcome.update(removed=result.removed, failed=result.failed)
    if as_json:
        click.echo(json.dumps(outcome, indent=2))
    sys.exit(1 if outcome["failed"] else 0)


def _regions(region: str, also_in: str) -> list[str]:
    """``region`` and those ``--also-in`` names (``all``: every Vertex AI region), each once."""
    from vllm_vertex import hardware
    from vllm_vertex.config import closest

    if also_in.strip() == "all":
        return list(dict.fromkeys([region, *sorted(hardware.VERTEX_REGIONS)]))
    named = [r.strip() for r in also_in.split(",") if r.strip()]
    unknown = [r for r in named if r not in hardware.VERTEX_REGIONS]
    if unknown:
        hint = closest(unknown[0], hardware.VERTEX_REGIONS)
        raise BadInput(f"--also-in {unknown[0]!r} is not a Vertex AI region.{hint}")
    return list(dict.fromkeys([region, *named]))


def _expired_runs(project: str, region: str, say):
    """What ``--expired`` removes (every resource of each run whose keep-until passed), what it keeps, and how."""
    import time

    from vllm_vertex.cloud import listing
    from vllm_vertex.cloud import teardown as td

    found = listing.expired(project, region, time.time())
    labels = list(dict.fromkeys(e.run_label for e in found if e.run_label))
    kept = [f"{e.endpoint} (expired but has no run label; remove it with --endpoint)" for e in found if not e.run_label]
    names = [n for label in labels for n in _run_resources(project, region, label)]

    def remove():
        report = td.TeardownReport()
        for label in labels:
            one = td.teardown_run(project, region, label, log=say)
            report.removed += one.removed
            report.failed.update(one.failed)
            report.skipped.update(one.skipped)
        return report

    return names, kept, remove


def _run_resources(project: str, region: str, run_label: str) -> list[str]:
    from vllm_vertex.cloud.teardown import find_run_resources

    endpoints, models = find_run_resources(project, region, run_label)
    deployed = [f"deployed model {d.id} on {e.name}" for e in endpoints for d in e.deployed_models]
    return deployed + [e.name for e in endpoints] + [m.name for m in models]
