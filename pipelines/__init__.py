"""Pipelines, and the one function that turns a config into a compiled pipeline."""

from pipelines.canary import CANARY_NAME, canary
from pipelines.compiling import compile_all, compile_pipeline, pipeline_arguments, pipeline_for
from pipelines.deploy_and_verify import PIPELINE_NAME, deploy_and_verify

__all__ = [
    "CANARY_NAME",
    "PIPELINE_NAME",
    "canary",
    "compile_all",
    "compile_pipeline",
    "deploy_and_verify",
    "pipeline_arguments",
    "pipeline_for",
]
