"""Runs the place-and-deploy step's ``python_func`` with real KFP artifacts (tests share it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google_cloud_pipeline_components.types.artifact_types import VertexEndpoint, VertexModel
from kfp.dsl import Metrics

import components as c


@dataclass
class Placed:
    """The step's outputs: its named return values and its three artifacts."""

    outputs: Any
    model: VertexModel
    endpoint: VertexEndpoint
    metrics: Metrics


def place(config: str, run_label: str, weights_uri: str = "") -> Placed:
    """Uploads, creates the endpoint and deploys (falling back across placements) as the pipeline's step does."""
    model = VertexModel(name="model", uri="", metadata={})
    endpoint = VertexEndpoint(name="endpoint", uri="", metadata={})
    metrics = Metrics(name="metrics", uri="", metadata={})
    out = c.place_and_deploy.python_func(config=config, run_label=run_label, weights_uri=weights_uri, model=model,
                                         endpoint=endpoint, metrics=metrics)
    return Placed(out, model, endpoint, metrics)
