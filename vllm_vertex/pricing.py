"""What a deployment costs per hour on Vertex AI online prediction, and what a run spent. Pure.

Vertex AI bills a deployed model per node hour: the machine type plus its GPUs, for every
replica, from the moment the deploy starts serving until it is undeployed, whether or not a
request arrives ("You pay for each model deployed to an endpoint, even if no prediction is
made. You must undeploy your model to stop incurring further charges." — Vertex AI pricing).

``PRICES`` holds one row per machine + GPU combination the presets use, each with the figure,
its source and the date it was read. A row whose figure could not be verified holds ``None``:
the CLI and the reports then say the price is unknown and where to look, rather than guess.

Status of the figures (searched 2026-11-27; this project's build machines reach the web only
through stored copies of public pages and repositories): no row has a verified figure, so every
row holds ``None``. A figure counts as verified only when read on Google's own page, or in a copy
that says it was taken verbatim from Google's page or SKU catalog with a date (and two such
sources, where both exist, agree). Why each row stays unknown:

- Google's page. https://cloud.google.com/vertex-ai/pricing (also its ?hl=pt-BR, zh-CN, zh-TW
  and pl variants) could only be read up to its AutoML tables; the custom-trained models'
  "Prediction and explanation" (inference) tables, per machine type and accelerator, were not
  reachable in any variant, nor on the renamed
  https://cloud.google.com/products/gemini-enterprise-agent-platform/pricing.
- The one dated verbatim copy of that page (api-evangelist/google-vertex-ai,
  plans/google-vertex-ai-plans-pricing.yml, read 2026-10-07) has no prediction row: it quotes
  training only (n1-standard-4 0.21849885 USD/h, NVIDIA_H100_80GB 9.79655057 USD/h).
- g2-standard-8, g2-standard-12, g2-standard-96 (NVIDIA_L4) and a2-highgpu-1g
  (NVIDIA_TESLA_A100): no copy of the Vertex AI prediction SKUs with prices was found ("Vertex AI:
  Online/Batch Prediction G2 Instance Core/Ram", "... A2 Instance Core/Ram", "... Nvidia L4 GPU",
  "... Nvidia Tesla A100 GPU"). The copies that do exist are of Compute Engine SKUs ("G2 Instance
  Core running in Americas", "Nvidia L4 GPU running in Americas", ...), a different and lower
  price list, or third-party estimates that name no Google source and disagree with each other:
  neither is the Vertex AI prediction price.
- a3-highgpu-8g (NVIDIA_H100_80GB): Google Cloud Japan's article
  https://zenn.dev/google_cloud_jp/articles/dws-flex-new-skus (August 2025) lists the unit prices
  of a us-central1 online-prediction deployment from its billing report: "Vertex AI: Online/Batch
  Prediction Nvidia H100 80gb GPU running in Iowa" (AE9C-DB60-DF46) 11.2660332 USD/h, "... A3
  Predefined Instance Core running in Iowa" (A002-4323-D900) 0.0293227 USD/h per vCPU, "... A3
  Predefined Instance Ram running in Iowa" (2424-9F04-82A8) 0.0025534 USD per GB-hour, which would
  make 8 GPUs + 208 vCPUs + 1,872 GB about 101.01 USD/h. Not used: it is a single source, it does
  not say it copied the catalog verbatim, it is fifteen months old, and its H100 training rate in
  Iowa (11.2660332 USD/h) does not match the one in the 2026-10-07 verbatim copy of Google's page
  (9.79655057 USD/h, region not stated), so Vertex's H100 rates have likely changed since.

Online, ``vllm-vertex plan --live-prices`` prices a node from Google's Cloud Billing Catalog API
instead (``vllm_vertex.pricing_catalog`` matches the SKUs, ``vllm_vertex.cloud.billing_catalog``
reads them), and so does the end of ``submit --wait`` and ``follow`` for a deployment the run keeps
when this table has no figure for it (``--no-live-prices`` opts out). This table stays what the smoke
report and the Metrics use, since pipeline steps make no pricing calls.

To add a figure: read the page's prediction tables (or the "Vertex Prediction" SKU group at
https://cloud.google.com/skus) for us-central1, put the node's per-hour figure (machine and
GPUs) in ``usd_per_hour`` with its source and date, and ``plan``, the README's presets table
(kept in step by tests/test_pricing.py), the smoke report and ``submit --wait`` show it.
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
            assert node is not None  # usd_per_hour is known only from a node price
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
