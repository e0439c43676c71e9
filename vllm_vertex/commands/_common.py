"""What every subcommand shares: error → exit code, common options, run files, templates.

Exit codes: 0 success; 1 the run, a check or a deletion failed (or an API error); 2 bad input
(nothing was sent); 130 interrupted.
"""

from __future__ import annotations

import contextlib
import functools
import pathlib
import tempfile

import click

__all__ = [
    "BadInput",
    "MaskingGroup",
    "api_options",
    "guarded",
    "load_run",
    "location_options",
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


def guarded(func):
    """Turns the project's errors into clean messages and exit codes (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from vllm_vertex.cloud.smoke import EndpointNotFound
        from vllm_vertex.config import ConfigError
        from vllm_vertex.redact import mask

        try:
            return func(*args, **kwargs)
        except (ConfigError, EndpointNotFound, ValueError) as err:
            raise BadInput(mask(str(err))) from None
        except Exception as err:
            if type(err).__module__.startswith("google.api_core"):
                raise click.ClickException(mask(f"{type(err).__name__} from Google Cloud: {err}")) from None
            raise

    return wrapper


def api_options(func):
    """The hidden ``--api-endpoint`` (tests point every Google client at a local server)."""
    return click.option("--api-endpoint", default="", hidden=True, help="Base URL replacing every Google API.")(func)


def location_options(func):
    """``--project`` and ``--region`` (they override a run file's values)."""
    func = click.option("--region", default="", help="Vertex AI region, e.g. us-central1.")(func)
    return click.option("--project", default="", help="Google Cloud project ID.")(func)


def require_location(project: str, region: str) -> None:
    """Raises ``BadInput`` naming whichever of ``--project``/``--region`` is missing."""
    missing = [f"--{n}" for n, v in (("project", project), ("region", region)) if not v]
    if missing:
        raise BadInput(f"{' and '.join(missing)} missing: give the Google Cloud project and the Vertex AI region.")


def load_run(path: str, project: str = "", region: str = "", endpoint: str = ""):
    """The validated run file with command-line overrides applied."""
    from vllm_vertex import configfile

    overrides = {"project": project, "region": region, "canary": {"endpoint": endpoint}}
    return configfile.load(path, overrides)


@contextlib.contextmanager
def submission(run, yaml_path: str | None, canary: bool, api_endpoint: str):
    """A ``jobs.Submission`` for the run file: the given compiled YAML, or one compiled now."""
    from pipelines import compile_pipeline, pipeline_arguments
    from vllm_vertex import configfile
    from vllm_vertex.cloud import jobs

    configfile.require_submission(run)
    endpoint = configfile.require_canary(run).canary.endpoint if canary else None
    with tempfile.TemporaryDirectory(prefix="vllm-vertex-") as tmp:
        template = yaml_path or str(
            compile_pipeline(
                run.config, pathlib.Path(tmp) / "pipeline.yaml", canary_endpoint=endpoint, for_tests=bool(api_endpoint)
            )
        )
        values = jobs.template_values(template, pipeline_arguments(run.config, api_endpoint, canary_endpoint=endpoint))
        yield jobs.Submission(template, values, run.config.project, run.config.region, run.pipeline)
