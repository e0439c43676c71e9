"""What every subcommand shares: error → exit code, common options, run files, templates.

Exit codes: 0 success; 1 the run, a check or a deletion failed (or an API error); 2 bad input or
set-up (credentials, permissions; nothing was sent); 130 interrupted. ``guarded`` maps an error by
its class (``vllm_vertex.errors``). Failures print one line and no traceback, a bug too (exit 1);
``vllm-vertex --debug`` (or ``VLLM_VERTEX_DEBUG=1``) prints the traceback as well.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pathlib
import tempfile
import traceback
from typing import Any

import click

from vllm_vertex.errors import EXIT_BAD_INPUT, EXIT_FAILED, BadInput, PlanRefused, VllmVertexError

__all__ = [
    "MaskingGroup",
    "default_location",
    "guarded",
    "load_run",
    "location_for",
    "location_options",
    "require_credentials",
    "require_location",
    "submission",
]


class MaskingGroup(click.Group):
    """The command group: every error it prints (click's usage errors too) has credentials masked."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Runs the CLI; a ``ClickException``'s message is masked before it is shown.

        Everything printed goes through ``_output.SafeStream`` (masked, control characters escaped).
        """
        import sys

        from vllm_vertex.commands import _output

        _output.install()
        try:
            return super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]  # *args: click's own
        except click.ClickException as err:
            from vllm_vertex.redact import mask

            err.message = mask(err.message)  # type: ignore[misc]  # click marks it Final; what is shown is masked
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


class Failure(click.ClickException):
    """What ``guarded`` raises for any failure: click prints ``Error: <message>`` and exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # a ClassVar in click: each failure has its own


def debugging() -> bool:
    """True with ``vllm-vertex --debug`` or ``VLLM_VERTEX_DEBUG=1``: failures show their traceback too."""
    ctx = click.get_current_context(silent=True)
    flag = bool(ctx and ctx.find_root().params.get("debug"))
    return flag or os.environ.get("VLLM_VERTEX_DEBUG", "") not in ("", "0")


def guarded(func):
    """Turns every failure into one line and an exit code, chosen by the error's class (``failure_for``).

    A bug (any other exception) exits 1 with its type and message; its traceback shows only when debugging.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as err:
            if debugging():
                from vllm_vertex.redact import mask

                click.echo(mask(traceback.format_exc()).rstrip(), err=True)
            raise failure_for(err) from None

    return wrapper


def failure_for(err: Exception) -> Failure:
    """The one-line failure (message, exit code) for ``err``, by its class.

    Ours (``VllmVertexError``): its exit code and its message with the fix. google-auth errors: the
    named problem and fix (exit 2). Google API errors: the error's name and first line (exit 2 for
    a refusal of credentials or permission, else 1). Not reaching Google: exit 2. Anything else is
    a bug: exit 1, whatever its type (a ``ValueError`` from a bug is not bad input). Credentials are masked.
    """
    from vllm_vertex.redact import mask

    failure = _unmasked_failure(err)
    return Failure(mask(failure.message), failure.exit_code)


def _unmasked_failure(err: Exception) -> Failure:
    if isinstance(err, VllmVertexError):
        return Failure(err.user_message(), err.exit_code)
    auth_errors = _loaded("google.auth.exceptions", "GoogleAuthError")
    if auth_errors and isinstance(err, auth_errors):
        from vllm_vertex.cloud import auth

        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return Failure(auth.explain(err) or f"Google credentials failed: {first}", EXIT_BAD_INPUT)
    api_errors = _loaded("google.api_core.exceptions", "GoogleAPIError")
    if api_errors and isinstance(err, api_errors):
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        refused = isinstance(err, _loaded("google.api_core.exceptions", "Forbidden", "Unauthorized"))  # 403, 401
        return Failure(f"{type(err).__name__} from Google Cloud: {first}", EXIT_BAD_INPUT if refused else EXIT_FAILED)
    unreachable = _loaded("requests.exceptions", "ConnectionError", "Timeout")
    if unreachable and isinstance(err, unreachable):
        return Failure(f"could not reach Google Cloud ({type(err).__name__}): check the network or proxy",
                       EXIT_BAD_INPUT)
    hint = "" if debugging() else " (vllm-vertex --debug shows the traceback)"
    return Failure(f"unexpected {type(err).__name__}: {err}{hint}. This is a bug in vllm-vertex.", EXIT_FAILED)


def _loaded(module: str, *names: str) -> tuple[type, ...]:
    """The named classes of ``module`` if it is already imported (an error of it can only exist then), else ()."""
    import sys

    found = sys.modules.get(module)
    return tuple(getattr(found, n) for n in names) if found is not None else ()


def require_credentials() -> None:
    """Checks Application Default Credentials (one line, exit 2, well under a second when missing).

    Call it after validating local input and before compiling or calling Google. With the hidden
    ``VLLM_VERTEX_API_ENDPOINT`` (tests, a local stand-in; ``cloud.context``) clients use anonymous
    credentials: nothing to check.
    """
    from vllm_vertex.cloud.context import current

    if current().overridden:
        return
    from vllm_vertex.cloud import auth

    auth.check()


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
    """The validated run file with command-line overrides applied.

    Project and region: ``--project``/``--region``, then the file's, then gcloud's defaults (said on stderr).
    """
    from vllm_vertex import configfile

    overrides = {"project": project, "region": region, "canary": {"endpoint": endpoint}}
    return configfile.load(path, overrides, defaults=_located)


def _located(data: dict) -> dict:
    """A run file's mapping with an empty ``project``/``region`` filled as gcloud would (``default_location``)."""
    project, region = default_location(data.get("project") or "", data.get("region") or "")
    return {**data, **{k: v for k, v in (("project", project), ("region", region)) if v}}


def refuse_if_plan_fails(cfg) -> None:
    """The offline plan of a run (what preflight would say): ``BadInput`` (exit 2) when it cannot fit.

    "At risk" and an unverified "does not fit" only warn (unless ``block_on_plan_risk``); a model with no
    shipped config is noted and left to the preflight step, which reads its config from the Hub or ``gs://``.
    """
    from vllm_vertex import ladder, preflight

    if cfg.placements:  # each placement is planned: one that cannot fit would only crash its container
        refused = [r for r in ladder.offline_ladder(cfg) if r.skip]
        if refused:
            raise PlanRefused("the capacity plan refuses these placements; remove them from placements or change "
                              "them:\n" + "\n".join(f"- placements[{r.index}] ({r.where}): {r.skip}" for r in refused))
        return
    report = preflight.offline(cfg)
    if not report.ok:
        raise PlanRefused(report.error_text())
    if report.plan is None:
        click.echo(f"note: {cfg.model_id} has no shipped config; capacity is planned by the preflight step.", err=True)
    elif report.plan.at_risk or not report.plan.fits:  # not fits here = unverified: a warning only
        click.echo(f"warning: {report.plan.message}", err=True)


@contextlib.contextmanager
def submission(run, yaml_path: str | None, canary: bool, plan: bool = True, dry_run: bool = False):
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
        require_credentials()
    from pipelines import compile_pipeline, pipeline_arguments
    from vllm_vertex.cloud import jobs

    with tempfile.TemporaryDirectory(prefix="vllm-vertex-") as tmp:
        template = yaml_path or str(
            compile_pipeline(
                run.config, pathlib.Path(tmp) / "pipeline.yaml", canary_endpoint=endpoint,
                image=run.pipeline.image,
            )
        )
        values = jobs.template_values(template, pipeline_arguments(run.config, canary_endpoint=endpoint))
        yield jobs.Submission(template, values, run.config.project, run.config.region, run.pipeline)
