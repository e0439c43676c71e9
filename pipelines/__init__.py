"""Pipelines, and the one function that turns a config into a compiled pipeline."""

from pipelines.canary import CANARY_NAME, canary, canary_for_tests
from pipelines.compiling import compile_all, compile_pipeline, pipeline_arguments, pipeline_for
from pipelines.deploy_and_verify import PIPELINE_NAME, deploy_and_verify, deploy_and_verify_for_tests

__all__ = [
    "CANARY_NAME",
    "PIPELINE_NAME",
    "canary",
    "canary_for_tests",
    "compile_all",
    "compile_pipeline",
    "deploy_and_verify",
    "deploy_and_verify_for_tests",
    "pipeline_arguments",
    "pipeline_for",
]
