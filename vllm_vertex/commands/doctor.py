"""``doctor``: is this project ready for vllm-vertex? A checklist with the exact fix for each gap."""

from __future__ import annotations

import json
import sys

import click

from vllm_vertex.commands._common import (
    guarded,
    load_run,
    location_options,
    require_credentials,
    require_location,
)
from vllm_vertex.errors import BadInput

__all__ = ["doctor"]

_MARK = {"ok": "ok", "missing": "MISSING", "unknown": "?", "skipped": "-", "warning": "WARN"}
_FIX_PASSES = 3  # creating a bucket or an account can reveal the grant it needs next


@click.command()
@click.argument("config_file", metavar="[RUN.yaml]", required=False, type=click.Path(dir_okay=False))
@click.option("--preset", default="", help="Check GPU quota for this preset (a run file's own config otherwise).")
@click.option("--pipeline-root", default="", help="gs://bucket/folder (overrides the run file's).")
@click.option("--service-account", "pipeline_account", default="",
              help="The pipeline's service account (default: the run file's, else Vertex's default).")
@click.option("--hf-token-secret", default="", help="projects/P/secrets/S/versions/V (overrides the run file's).")
@click.option("--caller", default="", help="Your IAM member, e.g. user:me@example.com: fixes then name you.")
@click.option("--json", "as_json", is_flag=True, help="Print the checklist as JSON.")
@click.option("--fix", is_flag=True, help="Apply the missing pieces it can (enable APIs, create the bucket and "
                                          "service account, grant roles), saying each one.")
@location_options
@guarded
def doctor(config_file, preset, pipeline_root, pipeline_account, hf_token_secret, caller, as_json, fix, project,
           region):
    """Check a project's set-up for vllm-vertex: credentials, project, APIs, service accounts and actAs,
    IAM roles, the pipeline-root bucket, the HF token secret, GPU quota. Each line: ok or MISSING with
    the gcloud command that fixes it. Exit 0 when nothing is missing, 1 when something is, 2 bad input
    or no credentials.
    """
    from vllm_vertex.cloud import auth
    from vllm_vertex.doctor import checks as checks_
    from vllm_vertex.doctor import summary

    inputs = _inputs(config_file, preset, pipeline_root, pipeline_account, hf_token_secret, caller, project, region)
    try:
        require_credentials()
    except auth.CredentialsError as err:  # run what needs no credentials, list the rest as not run
        _without_credentials(inputs, str(err), as_json)
    creds = auth.checked()
    if creds is not None:
        from google.oauth2 import credentials as user_credentials

        from vllm_vertex.doctor import member

        email = getattr(creds, "service_account_email", "")
        if not inputs.caller and email and "@" in email:
            inputs = _replace(inputs, caller=member(email))
        if isinstance(creds, user_credentials.Credentials):
            inputs = _replace(inputs, quota_project=creds.quota_project_id or "")
    log = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    checks = checks_.run(inputs)
    applied = []
    for _ in range(_FIX_PASSES if fix else 0):
        if not any(c.status == "missing" and c.action for c in checks):
            break
        if not as_json:
            _print(checks, inputs, log)
        log("applying fixes:")
        failed = checks_.apply_fixes(checks, inputs, log=log)
        applied += [c.name for c in checks if c.status == "missing" and c.action]
        checks = checks_.run(inputs)
        if failed:
            break
    missing = [c for c in checks if c.status == "missing"]
    if as_json:
        payload = {"project": inputs.project, "region": inputs.region, "ok": not missing, "summary": summary(checks),
                   "checks": [c.to_dict() for c in checks], "fixed": applied,
                   "warnings": [c.to_dict() for c in checks if c.status == "warning"]}
        click.echo(json.dumps(payload, indent=2))
    else:
        _print(checks, inputs, log)
    sys.exit(1 if missing else 0)


# What doctor checks with credentials, for the list it prints without them (names as vllm_vertex/doctor/checks.py).
_CLOUD_CHECKS = [
    ("project", "the project exists and you can see it"),
    ("apis", "the APIs vllm-vertex calls are enabled"),
    ("caller", "your own roles (submit runs, act as the pipeline's service account)"),
    ("pipeline-account", "the pipeline's service account exists and you can act as it"),
    ("pipeline-account-roles", "its roles (Vertex AI, Cloud Storage, Secret Manager)"),
    ("bucket", "the pipeline-root bucket exists and it can write there"),
    ("secret", "the HF token secret exists and it can read it"),
    ("model-bucket", "Vertex AI's service agent can read the model's bucket"),
    ("quota", "GPU and CPU quota for the preset's machine in the region"),
]


def _without_credentials(inputs, problem: str, as_json: bool) -> None:
    """The checks that need no credentials, the credentials line, then every cloud check as not run; exit 2."""
    from vllm_vertex.doctor import Check, summary

    checks = [Check("credentials", "missing", problem, fix="gcloud auth application-default login")]
    if inputs.config is not None:
        from vllm_vertex import preflight

        report = preflight.offline(inputs.config)
        if not report.ok:
            checks.append(Check("capacity-plan", "missing", report.error_text().replace("\n", " ")))
        elif report.plan is not None:
            checks.append(Check("capacity-plan", "ok", f"{inputs.config.model_id} fits on {inputs.config.machine_type}"
                                f" (verdict {report.plan.verdict.value}, KV cache {report.plan.kv_cache_tokens:,} "
                                "tokens; offline plan)"))
    checks += [Check(name, "skipped", f"not run (needs credentials): {what}") for name, what in _CLOUD_CHECKS]
    said = f"{summary(checks)}; {len(_CLOUD_CHECKS)} not run (needs credentials)"
    if as_json:
        payload = {"project": inputs.project, "region": inputs.region, "ok": False, "summary": said,
                   "checks": [c.to_dict() for c in checks], "fixed": []}
        click.echo(json.dumps(payload, indent=2))
    else:
        _print(checks, inputs, click.echo, said)
    sys.exit(2)


def _inputs(config_file, preset, pipeline_root, pipeline_account, hf_token_secret, caller, project, region):
    """Local validation only: the run file, the preset, the flags."""
    from vllm_vertex.config import from_preset, validate
    from vllm_vertex.doctor import Inputs

    if config_file and preset:
        raise BadInput("give a run file or --preset, not both.")
    if pipeline_root and not pipeline_root.startswith("gs://"):
        raise BadInput(f"--pipeline-root must be a gs://bucket/folder, got {pipeline_root!r}.")
    if hf_token_secret and "/secrets/" not in hf_token_secret:
        raise BadInput("--hf-token-secret must be projects/P/secrets/S/versions/V.")
    if caller and ":" not in caller:
        raise BadInput(f"--caller must be an IAM member like user:me@example.com, got {caller!r}.")
    cfg, root, account, model_account, secret = None, "", "", "", ""
    if config_file:
        run = load_run(config_file, project, region)
        cfg = run.config
        project, region = cfg.project, cfg.region
        root, account = run.pipeline.pipeline_root, run.pipeline.service_account
        model_account, secret = cfg.service_account, cfg.hf_token_secret
    project, region = require_location(project, region)
    if preset:
        cfg = validate(from_preset(preset, project=project, region=region))
    elif not config_file:
        validate(from_preset("llama-3.1-8b-instruct", project=project, region=region))  # checks the region's name
    return Inputs(project=project, region=region, pipeline_root=pipeline_root or root,
                  pipeline_account=pipeline_account or account, model_account=model_account,
                  hf_token_secret=hf_token_secret or secret, caller=caller, config=cfg)


def _replace(inputs, **changes):
    import dataclasses

    return dataclasses.replace(inputs, **changes)


def _print(checks, inputs, log, said: str = "") -> None:
    from vllm_vertex.doctor import summary

    log(f"doctor: project {inputs.project}, region {inputs.region}")
    for check in checks:
        log(f"  {_MARK[check.status]:<8} {check.detail}")
        if check.fix and check.status != "ok":
            log(f"           fix: {check.fix}")
    log(said or summary(checks))
