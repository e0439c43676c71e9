"""What every subcommand shares: error → exit code, common options, run files, templates.

Exit codes: 0 success; 1 the run, a check or a deletion failed (or an API error); 2 bad input or
set-up (credentials, permissions; nothing was sent); 130 interrupted. Expected failures print one
line and no traceback; ``vllm-vertex --debug`` (or ``VLLM_VERTEX_DEBUG=1``) prints it too.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pathlib
import tempfile
import traceback

import click

__all__ = [
    "BadInput",
    "MaskingGroup",
    "SetupError",
    "api_options",
    "default_location",
    "guarded",
    "load_run",
    "location_for",
    "location_options",
    "require_credentials",
    "require_location",
    "submission",
]


class BadInput(click.ClickException):
    """Bad input: printed as ``Error: ...`` with exit code 2; nothing was sent."""

    exit_code = 2


class MaskingGroup(click.Group):
    """The command group: every error it prints (click's usage errors too) has credentials masked."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        """Runs the CLI; a ``ClickException``'s message is masked before it is shown."""
        import sys

        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as err:
            from vllm_vertex.redact import mask

            err.message = mask(err.message)
            if not standalone_mode:
                raise
            err.show()
            sys.exit(err.exit_code)
        except click.exceptions.Abort:
            if not standalone_mode:
                raise
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except click.exceptions.Exit as err:
            if not standalone_mode:
                raise
            sys.exit(err.exit_code)


class SetupError(click.ClickException):
    """Credentials or cloud set-up are missing: ``Error: ...`` with exit code 2."""

    exit_code = 2


def debugging() -> bool:
    """True with ``vllm-vertex --debug`` or ``VLLM_VERTEX_DEBUG=1``: expected failures show their traceback."""
    ctx = click.get_current_context(silent=True)
    flag = bool(ctx and ctx.find_root().params.get("debug"))
    return flag or os.environ.get("VLLM_VERTEX_DEBUG", "") not in ("", "0")


def guarded(func):
    """Turns expected failures into one line and an exit code (no traceback unless debugging)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as err:
            failure = _expected_failure(err)
            if failure is None:
                raise
            from vllm_vertex.redact import mask

            if debugging():
                click.echo(mask(traceback.format_exc()).rstrip(), err=True)
            failure.message = mask(failure.message)
            raise failure from None

    return wrapper


def _expected_failure(err: Exception) -> click.ClickException | None:
    """The clean exception for an expected failure, None for a bug (which keeps its traceback)."""
    from vllm_vertex.cloud import auth
    from vllm_vertex.cloud.smoke import EndpointNotFound
    from vllm_vertex.cloud.teardown import TeardownError
    from vllm_vertex.config import ConfigError

    if isinstance(err, auth.CredentialsProblem):
        return SetupError(str(err))
    if isinstance(err, TeardownError):  # names the permission or the missing project, and the fix
        return click.ClickException(str(err))
    if isinstance(err, ConfigError | EndpointNotFound | ValueError):
        return BadInput(str(err))
    module = type(err).__module__
    if module.startswith("google.auth") or module.startswith("google.oauth2"):
        explained = auth.explain(err)
        return SetupError(explained) if explained else None
    if module.startswith("google.api_core"):
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        message = f"{type(err).__name__} from Google Cloud: {first}"
        if type(err).__name__ in ("PermissionDenied", "Unauthenticated", "Forbidden", "Unauthorized"):
            return SetupError(message)
        return click.ClickException(message)
    if module.startswith("requests") and type(err).__name__ in ("ConnectionError", "Timeout", "ConnectTimeout"):
        return SetupError(f"could not reach Google Cloud ({type(err).__name__}): check the network or proxy")
    return None


def require_credentials(api_endpoint: str = "") -> None:
    """Checks Application Default Credentials (one line, exit 2, well under a second when missing).

    Call it after validating local input and before compiling or calling Google. With the hidden
    ``--api-endpoint`` (tests, a local stand-in) clients use anonymous credentials: nothing to check.
    """
    if api_endpoint:
        return
    from vllm_vertex.cloud import auth

    auth.check()


def api_options(func):
    """The hidden ``--api-endpoint`` (tests point every Google client at a local server)."""
    return click.option("--api-endpoint", default="", hidden=True, help="Base URL replacing every Google API.")(func)


def location_options(func):
    """``--project`` and ``--region`` (they override a run file's values)."""
    func = click.option("--region", default="", help="Vertex AI region, e.g. us-central1.")(func)
    return click.option("--project", default="", help="Google Cloud project ID.")(func)


def default_location(project: str, region: str) -> tuple[str, str]:
    """``project`` and ``region``, each filled as gcloud would when empty (``vllm_vertex.gcloud_defaults``).

    Says on stderr, one line, where a filled value came from.
    """
    from vllm_vertex import gcloud_defaults

    used = []
    if not project:
        project, source = gcloud_defaults.project()
        used += [f"project {project} (from {source})"] if project else []
    if not region:
        region, source = gcloud_defaults.region()
        used += [f"region {region} (from {source})"] if region else []
    if used:
        click.echo(f"using {' and '.join(used)}", err=True)
    return project, region


def location_for(ref: str, project: str, region: str) -> tuple[str, str]:
    """The project and region a resource reference needs: none for a full name, else given or gcloud's defaults."""
    if ref.startswith(("projects/", "https://")):
        return project, region
    return default_location(project, region)


def require_location(project: str, region: str) -> tuple[str, str]:
    """The project and region (given, else gcloud's defaults); ``BadInput`` naming whichever is missing."""
    project, region = default_location(project, region)
    missing = [f"--{n}" for n, v in (("project", project), ("region", region)) if not v]
    if missing:
        raise BadInput(f"{' and '.join(missing)} missing: give the Google Cloud project and the Vertex AI region "
                       "(or set them as gcloud does: gcloud config set project P; gcloud config set ai/region R).")
    return project, region


def load_run(path: str, project: str = "", region: str = "", endpoint: str = ""):
    """The validated run file with command-line overrides applied."""
    from vllm_vertex import configfile

    overrides = {"project": project, "region": region, "canary": {"endpoint": endpoint}}
    return configfile.load(path, overrides)


def refuse_if_plan_fails(cfg) -> None:
    """The offline plan of a run (what preflight would say): ``BadInput`` (exit 2) when it cannot fit.

    "At risk" only warns (unless ``block_on_plan_risk``); a model with no shipped config is noted and
    left to the preflight step, which reads its config from the Hub or ``gs://``.
    """
    from vllm_vertex import preflight

    report = preflight.offline(cfg)
    if not report.ok:
        raise BadInput(report.error_text() + "\n(nothing was submitted; --no-plan skips this check)")
    if report.plan is None:
        click.echo(f"note: {cfg.model_id} has no shipped config; capacity is planned by the preflight step.", err=True)
    elif report.plan.at_risk:
        click.echo(f"warning: {report.plan.message}", err=True)


@contextlib.contextmanager
def submission(run, yaml_path: str | None, canary: bool, api_endpoint: str, plan: bool = True, dry_run: bool = False):
    """A ``jobs.Submission`` for the run file: the given compiled YAML, or one compiled now.

    Order: the run file's submission checks (local), the offline capacity plan (unless ``plan`` is
    false or it is a canary run, which deploys nothing), then credentials (not with ``dry_run``),
    then compiling.
    """
    from vllm_vertex import configfile

    configfile.require_submission(run)
    endpoint = configfile.require_canary(run).canary.endpoint if canary else None
    if plan and not canary:
        refuse_if_plan_fails(run.config)
    if not dry_run:
        require_credentials(api_endpoint)
    from pipelines import compile_pipeline, pipeline_arguments
    from vllm_vertex.cloud import jobs

    with tempfile.TemporaryDirectory(prefix="vllm-vertex-") as tmp:
        template = yaml_path or str(
            compile_pipeline(
                run.config, pathlib.Path(tmp) / "pipeline.yaml", canary_endpoint=endpoint, for_tests=bool(api_endpoint),
                image=run.pipeline.image,
            )
        )
        values = jobs.template_values(template, pipeline_arguments(run.config, api_endpoint, canary_endpoint=endpoint))
        yield jobs.Submission(template, values, run.config.project, run.config.region, run.pipeline)
