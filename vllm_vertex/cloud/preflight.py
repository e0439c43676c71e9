"""Runs the preflight against the model's real source (Hub or GCS) and the capacity planner."""

from __future__ import annotations

from vllm_vertex import planner, preflight
from vllm_vertex.cloud.hub import ModelSource, inspect_gcs, inspect_hf
from vllm_vertex.cloud.secrets import read_secret
from vllm_vertex.cloud.smoke_image import check_smoke_image
from vllm_vertex.config import DeploymentConfig
from vllm_vertex.errors import SourceError

__all__ = ["run_preflight"]


def _source(cfg: DeploymentConfig, notes: list[str]) -> ModelSource:
    if cfg.model_id.startswith("gs://"):
        return inspect_gcs(cfg.model_id, cfg.project)
    token = read_secret(cfg.hf_token_secret) if cfg.hf_token_secret else None
    hub = inspect_hf(cfg.model_id, token, cfg.model_revision)
    notes.append(f"{cfg.model_id} at {cfg.model_revision or 'the default branch'} is commit {hub.sha}")
    if not (cfg.stage_weights_to and hub.sha):
        return hub
    from google.api_core import exceptions

    from vllm_vertex.cloud.weights import staged_copy

    try:
        uri = staged_copy(cfg.stage_weights_to, cfg.model_id, hub.sha, cfg.project)
    except exceptions.GoogleAPICallError as err:
        notes.append(f"the staged copy cannot be read ({type(err).__name__}); read from the Hub")
        return hub
    if uri is None:
        notes.append("weights not staged yet at that commit: stage-weights copies them; read from the Hub")
        return hub
    notes.append(f"read from the staged copy {uri} (complete)")
    staged = inspect_gcs(uri, cfg.project)
    staged.sha = hub.sha
    return staged


def run_preflight(cfg: DeploymentConfig) -> preflight.PreflightReport:
    """Reads the model's source, then predicts the deploy's outcome.

    A source that refuses (gated without access, not found) is a finding; a source that cannot
    be reached at all (no egress to the Hub) is a note, and the plan falls back to the configs
    shipped with the package.
    """
    source, finding = ModelSource(where="offline"), None
    notes: list[str] = []
    try:
        source = _source(cfg, notes)
    except SourceError as err:
        finding = preflight.Finding(err.key, err.cause, err.fix)
    except OSError as err:  # network unreachable, DNS: the check cannot run here
        notes.append(f"model source not reachable from this step ({type(err).__name__}); planned offline")
    config, where = source.config, source.where
    if config is None:
        config, where = planner.shipped_config(cfg.model_id), "offline"
    total = source.total_size or (planner.checkpoint_total_size(cfg.model_id) if where == "offline" else None)
    report = preflight.evaluate(cfg, config, where, source.has_chat_template, total, finding)
    report.notes[:0] = notes
    image_finding, image_note = check_smoke_image(cfg)
    report.findings += [image_finding] if image_finding else []
    report.notes += [image_note] if image_note else []
    return report
