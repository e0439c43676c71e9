"""Preflight: predicts the seed's four deploy failures from the config and the model's source. Pure.

Inputs are what the cloud side read (``cloud.hub.ModelSource``, or a ``SourceError``); the
verdict comes from the capacity planner. Nothing here does I/O except reading the configs
shipped with the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vllm_vertex import planner, recipes, textsafe
from vllm_vertex.config import DeploymentConfig
from vllm_vertex.errors import PlanError

__all__ = ["Finding", "PreflightReport", "evaluate", "offline", "render_markdown"]


@dataclass(frozen=True)
class Finding:
    """One predicted failure: a stable key, what would go wrong, and the fix."""

    key: str
    cause: str
    fix: str = ""


@dataclass
class PreflightReport:
    """All findings, the capacity plan (when a config was available) and notes."""

    findings: list[Finding] = field(default_factory=list)
    plan: planner.PlanResult | None = None
    config_source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing predicts a failed deploy."""
        return not self.findings

    def error_text(self) -> str:
        """What the failing step says: each cause and its fix."""
        return "preflight predicts the deploy would fail:\n" + "\n".join(
            f"- [{f.key}] {f.cause}" + (f" Fix: {f.fix}" if f.fix else "") for f in self.findings
        )


def _extra(cfg: DeploymentConfig, flag: str) -> str | None:
    """The value ``extra_vllm_args`` gives ``--flag``, spelled any way vLLM's parser accepts."""
    from vllm_vertex.container import extra_flag_value

    return extra_flag_value(cfg, f"--{flag}")


def _request(cfg: DeploymentConfig, total_size: int | None) -> planner.PlanRequest:
    batched = _extra(cfg, "max-num-batched-tokens")
    return planner.PlanRequest(
        kv_cache_dtype=_extra(cfg, "kv-cache-dtype") or "auto",
        max_num_batched_tokens=int(batched) if batched and batched.isdigit() else None,
        accelerator_type=cfg.accelerator_type,
        accelerator_count=cfg.accelerator_count,
        machine_type=cfg.machine_type,
        dtype=cfg.dtype if cfg.dtype not in ("half", "float") else {"half": "float16", "float": "float32"}[cfg.dtype],
        gpu_memory_utilization=cfg.gpu_memory_utilization,
        max_model_len=cfg.max_model_len,
        max_num_seqs=cfg.max_num_seqs,
        enforce_eager=cfg.enforce_eager,
        total_size=total_size,
        vllm_version=recipes.vllm_version_of(cfg.serving_image),
    )


def evaluate(
    cfg: DeploymentConfig,
    model_config: dict | None,
    config_source: str,
    has_chat_template: bool | None = None,
    total_size: int | None = None,
    source_finding: Finding | None = None,
) -> PreflightReport:
    """Combines the source's verdict, the chat-template check and the capacity plan.

    Args:
        cfg: The validated deployment configuration.
        model_config: The model's config.json (from the source, or shipped offline), or None.
        config_source: Where ``model_config`` came from (hub, gcs, offline).
        has_chat_template: Whether the tokenizer has a chat template; None when unknown.
        total_size: Checkpoint bytes from the safetensors index, when known.
        source_finding: A failure the source reported (gated, not found).
    """
    report = PreflightReport(config_source=config_source)
    if source_finding:
        report.findings.append(source_finding)
    if cfg.run_chat_checks and not cfg.chat_template and has_chat_template is False:
        report.findings.append(
            Finding(
                "missing_chat_template",
                f"{cfg.model_id}'s tokenizer has no chat template, so chat completions would fail "
                "('default chat template is no longer allowed').",
                "set chat_template (vLLM --chat-template), use the Instruct variant, or set run_chat_checks=false.",
            )
        )
    elif has_chat_template is None and cfg.run_chat_checks and not cfg.chat_template:
        report.notes.append("chat template not checked: the tokenizer config could not be read")
    if model_config is None:
        report.notes.append("capacity not planned: no config.json could be read and none ships for this model")
        return report
    from vllm_vertex.planner.context import context_problem

    too_long = context_problem(model_config, cfg.max_model_len, cfg.model_id)
    if too_long:
        report.findings.append(Finding("max_model_len_above_context", too_long))  # the planner cannot plan it
        return report
    try:
        report.plan = planner.plan(model_config, _request(cfg, total_size))
    except PlanError as err:
        report.notes.append(f"capacity not planned: {err}")
        return report
    if report.plan.blocking or (not report.plan.fits and cfg.block_on_plan_risk):
        report.findings.append(Finding(report.plan.verdict.value, report.plan.message))
    elif not report.plan.fits:  # an estimate outside calibration: a warning, never a refusal
        report.notes.append(
            f"capacity unverified (warning; block_on_plan_risk=true makes it fail): {report.plan.message}"
        )
    elif report.plan.at_risk and cfg.block_on_plan_risk:
        report.findings.append(
            Finding(
                report.plan.verdict.value,
                report.plan.message,
                "lower max_model_len as above, or set block_on_plan_risk=false to only warn.",
            )
        )
    elif report.plan.at_risk:
        report.notes.append(f"capacity at risk (warning; block_on_plan_risk=true makes it fail): {report.plan.message}")
    return report


def offline(cfg: DeploymentConfig) -> PreflightReport:
    """The capacity part of preflight with only what ships with the package (no network, no credentials).

    What ``submit`` and ``schedule create`` run before anything else: the shipped ``config.json`` and
    checkpoint size of ``cfg.model_id`` (a note, and no plan, when none ships).
    """
    report = evaluate(
        cfg,
        planner.shipped_config(cfg.model_id),
        "offline",
        total_size=planner.checkpoint_total_size(cfg.model_id),
    )
    report.notes = [n for n in report.notes if not n.startswith("chat template not checked")]
    return report


_ROWS = [
    ("GPU memory per GPU (GiB)", "gpu_memory_gib"),
    ("usable at gpu_memory_utilization (GiB)", "usable_gib"),
    ("weights per GPU (GiB)", "weights_gib_per_gpu"),
    ("activation peak (GiB)", "activation_gib"),
    ("left for the KV cache (GiB)", "available_kv_gib"),
    ("KV bytes per token per GPU", "kv_bytes_per_token_per_gpu"),
    ("KV cache capacity (tokens)", "kv_cache_tokens"),
    ("largest max_model_len that fits", "max_model_len_that_fits"),
    ("concurrent max_model_len requests", "max_concurrency"),
]


def render_markdown(report: PreflightReport, cfg: DeploymentConfig) -> str:
    """The preflight report for the console: verdict, findings, the capacity figures."""
    md = textsafe.md_text
    lines = [
        f"# Preflight: {'OK' if report.ok else 'WILL FAIL'}",
        "",
        md(
            f"{cfg.model_id} on {cfg.accelerator_count}× {cfg.accelerator_type} ({cfg.machine_type}), "
            f"max_model_len {cfg.max_model_len}, max_num_seqs {cfg.max_num_seqs}, "
            f"gpu_memory_utilization {cfg.gpu_memory_utilization}; config from {report.config_source or 'nowhere'}.",
            1000,
        ),
        "",
    ]
    lines += [
        f"- **{md(f.key, 80)}**: {md(f.cause, 1000)}" + (f" Fix: {md(f.fix, 1000)}" if f.fix else "")
        for f in report.findings
    ]
    if report.plan is not None:
        figures = report.plan.to_dict()
        lines += ["", f"Capacity verdict: `{report.plan.verdict.value}`", "", "| figure | value |", "|---|---|"]
        lines += [f"| {label} | {figures[key]:,} |" for label, key in _ROWS]
    lines += [f"- note: {md(n, 1000)}" for n in report.notes]
    return "\n".join(lines) + "\n"
