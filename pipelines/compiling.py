"""Config → pipeline arguments → compiled YAML. Used by compile.py, the CLI and the tests."""

from __future__ import annotations

import dataclasses
import inspect
import pathlib
from collections.abc import Callable

from vllm_vertex.config import DeploymentConfig, from_preset, validate
from vllm_vertex.errors import ConfigError

__all__ = ["CANARY_TARGETS", "DEPLOY_TARGETS", "compile_all", "compile_pipeline", "pipeline_arguments", "pipeline_for"]

# Compiled file → preset whose values become the parameters' defaults.
DEPLOY_TARGETS = {
    "vllm-deploy-text.yaml": "llama-3.1-8b-instruct",
    "vllm-deploy-multimodal.yaml": "llama-3.2-11b-vision-instruct",
}
CANARY_TARGETS = {"vllm-canary.yaml": "llama-3.1-8b-instruct"}


def pipeline_for(canary: bool = False):
    """The deploy-and-verify (or canary) pipeline."""
    if canary:
        from pipelines.canary import canary

        return canary
    from pipelines.deploy_and_verify import deploy_and_verify

    return deploy_and_verify


def pipeline_arguments(cfg: DeploymentConfig, *, canary_endpoint: str | None = None) -> dict:
    """The pipeline's parameter values for ``cfg`` (config field ``region`` is ``location``).

    Args:
        cfg: The deployment configuration.
        canary_endpoint: When given (even empty), the canary pipeline's values, checking this endpoint.
    """
    values = dataclasses.asdict(cfg)
    values["location"] = values.pop("region")
    if canary_endpoint is not None:
        values["endpoint"] = canary_endpoint
    names = set(inspect.signature(pipeline_for(canary_endpoint is not None).pipeline_func).parameters)
    missing = names - set(values)
    if missing:
        raise RuntimeError(f"pipeline parameters without a config field: {sorted(missing)}")
    return {k: v for k, v in values.items() if k in names}


def compile_pipeline(
    cfg: DeploymentConfig,
    path: str | pathlib.Path,
    *,
    require_project: bool = False,
    canary_endpoint: str | None = None,
    image: str = "",
) -> pathlib.Path:
    """Validates ``cfg`` and compiles the deploy-and-verify (or canary) pipeline with its values as defaults.

    An empty ``project`` gets no default, so the console asks for it (a required parameter).
    ``image``: every step runs on that prebuilt runtime image (``image/Dockerfile``), installing
    nothing at run time.
    """
    validate(cfg, require_project=require_project)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arguments = pipeline_arguments(cfg, canary_endpoint=canary_endpoint)
    if not arguments.get("project"):
        arguments.pop("project", None)
    pipeline = pipeline_for(canary_endpoint is not None)
    if image:
        pipeline = on_image(pipeline, image)
    write_yaml(pipeline, path, arguments)
    return path


def write_yaml(pipeline, path: pathlib.Path, arguments: dict) -> None:
    """Writes ``pipeline`` with ``arguments`` as its parameters' defaults: what ``kfp.compiler.Compiler().compile``
    writes, with libyaml's emitter.

    KFP 2.17's ``compile`` is ``modify_pipeline_spec_with_override`` and ``write_pipeline_spec_to_file``, which
    dumps the spec with PyYAML's pure-Python emitter: 95 % of compiling went there, scanning every character of
    the steps' embedded archives. The same spec, comments and key order through libyaml (``CSafeDumper``, when
    PyYAML was built with it) parse to the same documents; only where long quoted strings wrap differs
    (``tests/test_compile.py`` compares both writers' documents).
    """
    import yaml
    from google.protobuf import json_format
    from kfp.compiler import pipeline_spec_builder as builder

    spec = builder.modify_pipeline_spec_with_override(
        pipeline_spec=pipeline.pipeline_spec, pipeline_name=None, pipeline_parameters=arguments,
        pipeline_display_name=None,
    )
    documents = [json_format.MessageToDict(spec)]
    comments = builder.extract_comments_from_pipeline_spec(documents[0], pipeline.description)
    if len(pipeline.platform_spec.platforms) > 0:
        documents.append(json_format.MessageToDict(pipeline.platform_spec))
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with open(path, "w", encoding="utf-8") as out:
        out.write(comments)
        yaml.dump_all(documents, out, Dumper=dumper, sort_keys=True)


def on_image(pipeline, image: str):
    """A copy of ``pipeline`` whose every step runs on ``image`` and installs nothing at run time."""
    import copy

    from google.protobuf import json_format

    from components._runtime import image_container
    from vllm_vertex.configfile import image_problems

    problems = image_problems("image", image)
    if problems:
        raise ConfigError(problems)
    pipeline = copy.deepcopy(pipeline)
    deployment = json_format.MessageToDict(pipeline.pipeline_spec.deployment_spec)
    for executor in deployment["executors"].values():
        container = executor.get("container")
        if container:
            args = container["args"]
            container.update(image_container(args[args.index("--function_to_execute") + 1], image))
    pipeline.pipeline_spec.deployment_spec.Clear()
    pipeline.pipeline_spec.deployment_spec.update(deployment)
    return pipeline


def compile_all(out_dir: str | pathlib.Path, log: Callable[[str], None] = print, image: str = "") -> list[pathlib.Path]:
    """Compiles every deploy-and-verify target and the canary into ``out_dir`` (on ``image`` when given).

    Raises:
        ConfigError: a preset does not pass validation.
    """
    out = pathlib.Path(out_dir)
    paths = []
    for targets, endpoint in ((DEPLOY_TARGETS, None), (CANARY_TARGETS, "")):
        for filename, preset in targets.items():
            paths.append(compile_pipeline(from_preset(preset), out / filename, canary_endpoint=endpoint, image=image))
            log(f"wrote {paths[-1]} (preset {preset})")
    return paths
