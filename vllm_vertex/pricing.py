"""What a deployment costs per hour on Vertex AI online prediction, and what a run spent. Pure.

Vertex AI bills a deployed model per node hour: the machine type plus its GPUs, for every
replica, from the moment the deploy starts serving until it is undeployed, whether or not a
request arrives ("You pay for each model deployed to an endpoint, even if no prediction is
made. You must undeploy your model to stop incurring further charges." — Vertex AI pricing).

``PRICES`` holds one row per machine + GPU combination the presets use, each with the figure,
its source and the date it was read. A row whose figure could not be verified holds ``None``:
the CLI and the reports then say the price is unknown and where to look, rather than guess.

Status of the figures (2026-11-27): Google's page (https://cloud.google.com/vertex-ai/pricing,
"Prediction and explanation", us-central1) could not be read from this project's build
machines, and the copies found elsewhere disagree with each other (third-party tables give
g2-standard-12 anywhere from 1.25 to 1.98 USD/h), so no row has a verified figure yet. To add
one: read the page, put the machine's per-node-hour figure (GPUs included) in ``usd_per_hour``
with the date, and the README's presets table and ``plan`` show it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PRICES", "PRICING_URL", "HourlyPrice", "Rate", "describe", "estimated_cost", "rate_for"]

PRICING_URL = "https://cloud.google.com/vertex-ai/pricing"
REGION = "us-central1"


@dataclass(frozen=True)
class HourlyPrice:
    """One row of the table: a machine type with its GPUs, per node (replica) hour, in USD.

    Attributes:
        machine_type: Vertex machine type, e.g. ``g2-standard-12``.
        accelerator_type: The GPU it carries.
        accelerator_count: GPUs per node.
        usd_per_hour: Vertex AI prediction price of one node hour in us-central1 (machine and
            GPUs), or ``None`` when no verified figure is known.
        source: Where the figure was read.
        as_of: When it was read (YYYY-MM-DD).
    """

    machine_type: str
    accelerator_type: str
    accelerator_count: int
    usd_per_hour: float | None = None
    source: str = PRICING_URL
    as_of: str = ""


def _unverified(machine: str, accelerator: str, count: int) -> HourlyPrice:
    return HourlyPrice(machine, accelerator, count, None, PRICING_URL, "")


# The presets' hardware (vllm_vertex/recipes.py); tests keep every preset covered.
PRICES: dict[str, HourlyPrice] = {
    p.machine_type: p
    for p in (
        _unverified("g2-standard-8", "NVIDIA_L4", 1),
        _unverified("g2-standard-12", "NVIDIA_L4", 1),
        _unverified("g2-standard-96", "NVIDIA_L4", 8),
        _unverified("a2-highgpu-1g", "NVIDIA_TESLA_A100", 1),
        _unverified("a3-highgpu-8g", "NVIDIA_H100_80GB", 8),
    )
}


@dataclass(frozen=True)
class Rate:
    """The hourly cost of one deployment: the node price times the replicas billed.

    Attributes:
        machine_type: Machine type of one replica.
        replicas: Replicas billed (the minimum: Vertex runs at least that many).
        node: The table row, or ``None`` when the machine type is not in the table.
        spot: Spot VMs (billed at a discount the table does not hold).
    """

    machine_type: str
    replicas: int = 1
    node: HourlyPrice | None = None
    spot: bool = False

    @property
    def usd_per_hour(self) -> float | None:
        """USD per hour for every replica, or ``None`` when unknown (spot, or no verified figure)."""
        if self.node is None or self.node.usd_per_hour is None or self.spot:
            return None
        return self.node.usd_per_hour * self.replicas

    def text(self) -> str:
        """One line: the price and its source, or why it is unknown and where to look."""
        where = f"{self.replicas} replica(s) of {self.machine_type}"
        if self.usd_per_hour is not None:
            node = self.node
            return (
                f"~{self.usd_per_hour:.2f} USD/hour for {where} (Vertex AI prediction, {REGION} list price, "
                f"{node.source}, {node.as_of})"
            )
        if self.spot:
            return f"unknown for spot VMs ({where}); spot prices: {PRICING_URL}"
        return f"unknown for {where}: no verified figure in vllm_vertex/pricing.py; see {PRICING_URL}"


def rate_for(machine_type: str, replicas: int = 1, spot: bool = False) -> Rate:
    """The hourly rate of ``replicas`` nodes of ``machine_type`` (``node`` is None when not in the table)."""
    return Rate(machine_type, replicas, PRICES.get(machine_type), spot)


def estimated_cost(rate: Rate, deployed_seconds: float) -> float | None:
    """USD for ``deployed_seconds`` of the deployment (deployed time × hourly price), or ``None``."""
    per_hour = rate.usd_per_hour
    if per_hour is None or deployed_seconds < 0:
        return None
    return round(per_hour * deployed_seconds / 3600.0, 4)


def describe(rate: Rate, deployed_seconds: float) -> str:
    """``deployed 12.3 min × 1.00 USD/hour ≈ 0.21 USD`` or why the cost is unknown."""
    minutes = f"deployed {deployed_seconds / 60:.1f} min"
    cost = estimated_cost(rate, deployed_seconds)
    if cost is None:
        return f"{minutes}; estimated GPU cost unknown (price {rate.text()})"
    return f"{minutes} × {rate.usd_per_hour:.2f} USD/hour ≈ {cost:.2f} USD (estimated GPU cost)"
