"""Helpers of the CLI tests: run ``vllm-vertex`` in-process against the stand-in, deploy a model there."""

from __future__ import annotations

import pathlib

from click.testing import CliRunner, Result

from vllm_vertex.cli import main
from vllm_vertex.cloud.context import API_ENDPOINT_ENV, CloudContext, using

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEXT = str(ROOT / "examples" / "text-llama-3.1-8b.yaml")
MULTIMODAL = str(ROOT / "examples" / "multimodal-llama-3.2-11b-vision.yaml")
PROJECT, REGION = "my-project", "us-central1"
WHERE = ["--project", PROJECT, "--region", REGION]


def invoke(standin, *args: str, input: str | None = None) -> Result:
    """Runs the CLI; with a stand-in, every Google client is pointed at it (``VLLM_VERTEX_API_ENDPOINT``)."""
    env = {API_ENDPOINT_ENV: standin.url} if standin is not None else {}
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False, env=env)


def deploy(standin, run_label: str = "run-1", dedicated: bool = False, preset: str = "llama-3.1-8b-instruct",
           region: str = REGION):
    """Uploads, creates an endpoint and deploys with the product's own code; returns the Endpoint."""
    from vllm_vertex.cloud import vertex
    from vllm_vertex.config import from_preset

    cfg = from_preset(preset, project=PROJECT, dedicated_endpoint=dedicated, region=region)
    with using(CloudContext(api_endpoint=standin.url)):
        model = vertex.upload_model(cfg, run_label, None)
        endpoint = vertex.create_endpoint(cfg, run_label)
        vertex.deploy_model(cfg, model, endpoint.name, run_label, log=lambda _line: None)
    return endpoint


def posts(standin, suffix: str) -> list[str]:
    """Paths of the POST requests the stand-in saw whose path (without query) ends with ``suffix``."""
    return [p for m, p, _ in standin.requests if m == "POST" and p.split("?")[0].endswith(suffix)]
