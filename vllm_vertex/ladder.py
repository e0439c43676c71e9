"""The placement ladder: every candidate judged before anything is created. Pure.

Per candidate (``placements.candidates``): its capacity plan (the GPU may differ), its quota, its
hourly price (``vllm_vertex.pricing``), and whether the run tries it or skips it, saying why.
``plan``, ``submit --dry-run`` and the check-quota step show it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vllm_vertex import placements, pricing

if TYPE_CHECKING:
    from vllm_vertex.config import DeploymentConfig
    from vllm_vertex.quota import QuotaCheck

__all__ = ["Rung", "ladder", "ladder_lines", "ladder_markdown", "offline_ladder", "plan_verdict", "viable"]


@dataclass(frozen=True)
class Rung:
    """One candidate of the ladder, judged before anything is created.

    Attributes:
        index: Its position (0 is tried first).
        where: ``describe`` of the candidate.
        region: Its region.
        plan: The capacity verdict (``fits``, ``at_risk`` ...), or ``unplanned``.
        quota: ``ok``, ``short`` or ``unread``; ``quota_text`` says which quota and how much.
        quota_text: One line per quota, or why it was not read.
        usd_per_hour: Its hourly price (every replica), ``None`` when unknown.
        price: The price and its source, or why it is unknown.
        skip: Why it is not tried ("" when it is).
    """

    index: int
    where: str
    region: str
    plan: str
    quota: str
    quota_text: str
    usd_per_hour: float | None
    price: str
    skip: str = ""

    @property
    def viable(self) -> bool:
        """True when the run tries this candidate."""
        return not self.skip

    def to_dict(self) -> dict[str, Any]:
        """The rung as JSON-ready values."""
        return dataclasses.asdict(self)


# A candidate's plan: ``(verdict, why it cannot deploy or "")``, or None when it was not planned.
PlanOf = Callable[["DeploymentConfig"], "tuple[str, str] | None"]
# A candidate's quota checks, or why they were not read.
QuotaOf = Callable[["DeploymentConfig"], "list[QuotaCheck] | str"]


def ladder(cfg: DeploymentConfig, plan_of: PlanOf | None = None, quota_of: QuotaOf | None = None) -> list[Rung]:
    """Every candidate with its plan, quota and price, skipped (saying why) when it cannot deploy.

    Args:
        cfg: The validated configuration.
        plan_of: Plans one candidate; None: not planned here.
        quota_of: Reads one candidate's quota checks (or says why not); None: not read here.
    """
    rungs = []
    for i, c in enumerate(placements.candidates(cfg)):
        planned = plan_of(c) if plan_of is not None else None
        verdict, plan_skip = planned if planned is not None else ("unplanned", "")
        checks = quota_of(c) if quota_of is not None else "not read here"
        if isinstance(checks, str):
            quota, quota_text, quota_skip = "unread", f"quota: {checks}", ""
        else:
            short = [q.message(c.region) for q in checks if q.blocks]  # an unverified quota never skips
            quota = "short" if short else "ok"
            quota_text = "; ".join(q.message(c.region) for q in checks) or "no quota known to check"
            quota_skip = "quota: " + "; ".join(short) if short else ""
        rate = pricing.rate_for(c.machine_type, max(1, c.min_replica_count), c.spot)
        skip = "; ".join(s for s in (f"plan: {plan_skip}" if plan_skip else "", quota_skip) if s)
        rungs.append(Rung(i, placements.describe(c), c.region, verdict, quota, quota_text, rate.usd_per_hour,
                          rate.text(), skip))
    return rungs


def viable(rungs: Sequence[Rung]) -> list[Rung]:
    """The rungs the run tries, in order."""
    return [r for r in rungs if r.viable]


def _cost(rung: Rung) -> str:
    return f"${rung.usd_per_hour:,.2f}/h" if rung.usd_per_hour is not None else "price unknown"


def ladder_lines(rungs: Sequence[Rung]) -> list[str]:
    """The ladder for a terminal: one line per candidate, then its quota line and why it is skipped."""
    lines = []
    for r in rungs:
        state = "try" if r.viable else "SKIP"
        lines.append(f"{r.index + 1}. [{state}] {r.where}: plan {r.plan}, quota {r.quota}, {_cost(r)}")
        lines.append(f"     {r.quota_text}")
        if r.skip:
            lines.append(f"     skipped: {r.skip}")
    return lines


def ladder_markdown(rungs: Sequence[Rung]) -> str:
    """The ladder as a Markdown table (reports)."""
    from vllm_vertex.textsafe import md_text

    rows = ["| # | placement | plan | quota | $/h | tried |", "|---|---|---|---|---|---|"]
    for r in rungs:
        tried = "yes" if r.viable else f"skipped: {md_text(r.skip, 400)}"
        rows.append(f"| {r.index + 1} | {md_text(r.where, 200)} | {r.plan} | {r.quota} | {_cost(r)} | {tried} |")
    return "\n".join(rows)


def plan_verdict(
    cfg: DeploymentConfig, model_config: dict[str, Any] | None, config_source: str, total_size: int | None = None
) -> tuple[str, str] | None:
    """One candidate's capacity verdict (``preflight.evaluate``) and why it cannot deploy ("" when it can)."""
    from vllm_vertex import preflight

    report = preflight.evaluate(cfg, model_config, config_source, total_size=total_size)
    if report.plan is None and not report.findings:
        return None
    verdict = report.plan.verdict.value if report.plan is not None else report.findings[0].key
    return verdict, "; ".join(f.cause for f in report.findings)


def offline_ladder(
    cfg: DeploymentConfig, model_config: dict[str, Any] | None = None, config_source: str = "offline"
) -> list[Rung]:
    """The ladder with what is known locally: each candidate planned (``model_config``, else the shipped
    config), priced, and the quotas it needs named (the check-quota step reads their limits)."""
    from vllm_vertex import planner, quota

    if model_config is None:
        model_config = planner.shipped_config(cfg.model_id)
    total = planner.checkpoint_total_size(cfg.model_id)

    def needs(c: DeploymentConfig) -> str:
        wanted = ", ".join(f"{n.amount} of {n.quota_id}" for n in quota.needs(c))
        return f"needs {wanted} in {c.region} (the check-quota step reads the limits)"

    return ladder(cfg, lambda c: plan_verdict(c, model_config, config_source, total), needs)
