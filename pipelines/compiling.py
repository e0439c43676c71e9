"""Config → pipeline arguments → compiled YAML. Used by compile.py, the CLI and the tests."""

from __future__ import annotations

import dataclasses
import inspect
import pathlib

from vllm_vertex.config import DeploymentConfig, validate

__all__ = ["compile_pipeline", "pipeline_arguments"]


def pipeline_arguments(cfg: DeploymentConfig, api_endpoint: str = "") -> dict:
    """The pipeline's parameter values for ``cfg`` (config field ``region`` is ``location``)."""
    from pipelines.deploy_and_verify import deploy_and_verify

    values = dataclasses.asdict(cfg)
    values["location"] = values.pop("region")
    values["api_endpoint"] = api_endpoint
    names = _parameter_names(deploy_and_verify)
    missing = names - set(values)
    if missing:
        raise RuntimeError(f"pipeline parameters without a config field: {sorted(missing)}")
    return {k: v for k, v in values.items() if k in names}


def _parameter_names(pipeline) -> set[str]:
    return set(inspect.signature(pipeline.pipeline_func).parameters)


def compile_pipeline(cfg: DeploymentConfig, path: str | pathlib.Path, *, require_project: bool = False) -> pathlib.Path:
    """Validates ``cfg`` and compiles the deploy-and-verify pipeline with its values as defaults."""
    from kfp import compiler

    from pipelines.deploy_and_verify import deploy_and_verify

    validate(cfg, require_project=require_project)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(deploy_and_verify, str(path), pipeline_parameters=pipeline_arguments(cfg))
    return path
