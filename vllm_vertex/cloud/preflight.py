"""Runs the preflight against the model's real source (Hub or GCS) and the capacity planner."""

from __future__ import annotations

from vllm_vertex import planner, preflight
from vllm_vertex.cloud.hub import ModelSource, inspect_gcs, inspect_hf
from vllm_vertex.cloud.secrets import read_secret
from vllm_vertex.cloud.smoke_image import check_smoke_image
from vllm_vertex.config import DeploymentConfig
from vllm_vertex.errors import SourceError

__all__ = ["run_preflight"]


def _source(cfg: DeploymentConfig) -> ModelSource:
    if cfg.model_id.startswith("gs://"):
        return inspect_gcs(cfg.model_id, cfg.project)
    token = read_secret(cfg.hf_token_secret) if cfg.hf_token_secret else None
    hub = inspect_hf(cfg.model_id, token, cfg.model_revision)
    if cfg.stage_weights_to:  # the staged copy when complete
        from vllm_vertex.weights.manifest import staged_uri

        try:  # the report says "config from gcs"
            return inspect_gcs(staged_uri(cfg.stage_weights_to, cfg.model_id, hub.sha), cfg.project, True)
        except (SourceError, OSError):
            pass
    return hub


def run_preflight(cfg: DeploymentConfig) -> preflight.PreflightReport:
    """Reads the model's source, then predicts the deploy's outcome.

    A source that refuses (gated without access, not found) is a finding; a source that cannot
    be reached at all (no egress to the Hub) is a note, and the plan falls back to the configs
    shipped with the package.
    """
    source, finding, notes = ModelSource(where="offline"), None, []
    try:
        source = _source(cfg)
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
