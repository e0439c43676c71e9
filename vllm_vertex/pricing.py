"""What a deployment costs per hour on Vertex AI online prediction, and what a run spent. Pure.

Vertex AI bills a deployed model per node hour: the machine type plus its GPUs, for every
replica, from the moment the deploy starts serving until it is undeployed, whether or not a
request arrives ("You pay for each model deployed to an endpoint, even if no prediction is
made. You must undeploy your model to stop incurring further charges." — Vertex AI pricing).

``PRICES`` holds one row per machine type, us-central1, each with its figure, its *kind* and its
source. Every price printed says both: ``$12.63/h (prediction SKU, 2025-08, SOURCE)``. Two kinds:

- ``prediction SKU, 2025-08``: Vertex AI's own online-prediction SKUs, read from a us-central1
  billing report in Google Cloud Japan's article (https://zenn.dev/google_cloud_jp/articles/dws-flex-new-skus,
  August 2025): "Vertex AI: Online/Batch Prediction Nvidia H100 80gb GPU running in Iowa"
  (AE9C-DB60-DF46) 11.2660332 USD/h, "... A3 Predefined Instance Core running in Iowa" (A002-4323-D900)
  0.0293227 USD per vCPU hour, "... A3 Predefined Instance Ram running in Iowa" (2424-9F04-82A8)
  0.0025534 USD per GiB hour. a3-highgpu-Ng is N GPUs, 26·N vCPUs and 234·N GiB of them (1g 12.63,
  8g 101.01). Single and dated: Vertex's H100 rates may have moved since.
- ``estimate: Compute Engine × 1.15``: Compute Engine's on-demand us-central1 price of the machine with
  its GPUs (Cyclenerd/google-cloud-pricing-cost-calculator ``pricing.yml``, 2026-07-30, agreeing with
  skypilot-org/skypilot-catalog ``catalogs/v7/gcp/vms.csv``) times 1.15, the ratio between every
  prediction SKU found and its Compute Engine SKU (H100 11.2660332 / 9.79655057, T4 0.4024 / 0.35, N1
  vCPU 0.03635495 / 0.031611). An estimate, labelled so: a 2026-10 copy shows one H100 *training* price
  equal to Compute Engine's, so the markup may have changed for some SKUs.

Status of the figures: rows without a figure (``None``) are the shapes for which neither kind was
found: g2-standard-4, g2-standard-16, g2-standard-32 (no dated Compute Engine copy), a2-ultragpu-1g,
a2-ultragpu-2g, a2-ultragpu-4g, a2-ultragpu-8g (A100 80GB) and a3-megagpu-8g. The CLI and the reports
then say the price is unknown and where to look. N1 + T4 (0.621 USD/h estimated for n1-standard-4 with
one T4) is left out: the table is per machine type and an N1 machine carries 1, 2 or 4 T4s.

Online, the live Cloud Billing Catalog wins when it can be read: ``vllm-vertex plan --live-prices``
prices a node from it (``vllm_vertex.pricing_catalog`` matches the SKUs,
``vllm_vertex.cloud.billing_catalog`` reads them), and so does the end of ``submit --wait`` and
``follow`` for a deployment the run keeps (``--no-live-prices`` opts out). This table stays what the
smoke report and the Metrics use, since pipeline steps make no pricing calls.

To add or replace a figure: put the node's per-hour figure (machine and GPUs) in a row with its kind,
source and date; ``plan``, the README's presets table (kept in step by tests/test_pricing.py), the smoke
report and ``submit --wait`` show it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PRICES", "PRICING_URL", "HourlyPrice", "Rate", "describe", "estimated_cost", "price_text", "rate_for"]

PRICING_URL = "https://cloud.google.com/vertex-ai/pricing"
REGION = "us-central1"
SKU_KIND = "prediction SKU, 2025-08"
ESTIMATE_KIND = "estimate: Compute Engine × 1.15"
SKU_SOURCE = "https://zenn.dev/google_cloud_jp/articles/dws-flex-new-skus"
CE_SOURCE = "https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml 2026-07-30"
MARKUP = 1.15


@dataclass(frozen=True)
class HourlyPrice:
    """One row of the table: a machine type with its GPUs, per node (replica) hour, in USD.

    Attributes:
        machine_type: Vertex machine type, e.g. ``g2-standard-12``.
        accelerator_type: The GPU it carries.
        accelerator_count: GPUs per node.
        usd_per_hour: Vertex AI prediction price of one node hour in us-central1 (machine and
            GPUs), or ``None`` when no figure is known.
        source: Where the figure (or its Compute Engine base) was read.
        as_of: When the figure dates from (YYYY-MM or YYYY-MM-DD).
        kind: ``prediction SKU, 2025-08`` or ``estimate: Compute Engine × 1.15``; empty when unknown.
    """

    machine_type: str
    accelerator_type: str
    accelerator_count: int
    usd_per_hour: float | None = None
    source: str = PRICING_URL
    as_of: str = ""
    kind: str = ""

    def label(self) -> str:
        """``prediction SKU, 2025-08, SOURCE``: what the figure is and where it comes from."""
        return f"{self.kind or 'table'}, {self.source}"


def price_text(usd_per_hour: float, label: str) -> str:
    """The one way a price is printed: ``$X.XX/h (kind, source)``."""
    return f"${usd_per_hour:,.2f}/h ({label})"


def _unverified(machine: str, accelerator: str, count: int) -> HourlyPrice:
    return HourlyPrice(machine, accelerator, count, None, PRICING_URL, "")


def _estimate(machine: str, accelerator: str, count: int, compute_engine_usd: float) -> HourlyPrice:
    """Compute Engine's on-demand price of the node times the prediction markup."""
    return HourlyPrice(machine, accelerator, count, round(compute_engine_usd * MARKUP, 4), CE_SOURCE, "2026-07-30",
                       ESTIMATE_KIND)


# us-central1 prediction SKUs (Google Cloud Japan's billing report, 2025-08): USD per GPU, vCPU and GiB hour.
_H100_GPU, _A3_CORE, _A3_RAM = 11.2660332, 0.0293227, 0.0025534


def _a3_highgpu(gpus: int) -> HourlyPrice:
    """a3-highgpu-Ng from the SKUs: N H100s, 26·N vCPUs, 234·N GiB."""
    usd = gpus * _H100_GPU + 26 * gpus * _A3_CORE + 234 * gpus * _A3_RAM
    return HourlyPrice(f"a3-highgpu-{gpus}g", "NVIDIA_H100_80GB", gpus, round(usd, 4), SKU_SOURCE, "2025-08",
                       SKU_KIND)


# The presets' hardware (vllm_vertex/recipes.py) and the other GPU machines Vertex serves on; tests keep every
# preset covered with a figure.
PRICES: dict[str, HourlyPrice] = {
    p.machine_type: p
    for p in (
        _unverified("g2-standard-4", "NVIDIA_L4", 1),
        _estimate("g2-standard-8", "NVIDIA_L4", 1, 0.8536),
        _estimate("g2-standard-12", "NVIDIA_L4", 1, 1.0004),
        _unverified("g2-standard-16", "NVIDIA_L4", 1),
        _estimate("g2-standard-24", "NVIDIA_L4", 2, 2.0008),
        _unverified("g2-standard-32", "NVIDIA_L4", 1),
        _estimate("g2-standard-48", "NVIDIA_L4", 4, 4.0017),
        _estimate("g2-standard-96", "NVIDIA_L4", 8, 8.0033),
        _estimate("a2-highgpu-1g", "NVIDIA_TESLA_A100", 1, 3.6734),
        _estimate("a2-highgpu-2g", "NVIDIA_TESLA_A100", 2, 7.3468),
        _estimate("a2-highgpu-4g", "NVIDIA_TESLA_A100", 4, 14.6935),
        _estimate("a2-highgpu-8g", "NVIDIA_TESLA_A100", 8, 29.3871),
        *(_unverified(f"a2-ultragpu-{n}g", "NVIDIA_A100_80GB", n) for n in (1, 2, 4, 8)),
        *(_a3_highgpu(n) for n in (1, 2, 4, 8)),
        _unverified("a3-megagpu-8g", "NVIDIA_H100_MEGA_80GB", 8),
        _estimate("a3-ultragpu-8g", "NVIDIA_H200_141GB", 8, 86.76),
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
        capacity: ``flex-start`` or ``reservation`` (a specific one): billed otherwise than the table's
            on-demand figures (see ``_CAPACITY_BILLING``); empty: on demand (or spot).
    """

    machine_type: str
    replicas: int = 1
    node: HourlyPrice | None = None
    spot: bool = False
    capacity: str = ""

    @property
    def usd_per_hour(self) -> float | None:
        """USD per hour for every replica, or ``None`` when unknown (spot, flex-start, reservation, no figure)."""
        if self.node is None or self.node.usd_per_hour is None or self.spot or self.capacity:
            return None
        return self.node.usd_per_hour * self.replicas

    def text(self) -> str:
        """One line: the price and its source, or why it is unknown and where to look."""
        where = f"{self.replicas} replica(s) of {self.machine_type}"
        if self.usd_per_hour is not None:
            return f"{price_text(self.usd_per_hour, self.label())} for {where}, {REGION}"
        if self.spot:
            return f"unknown for spot VMs ({where}); spot prices: {PRICING_URL}"
        if self.capacity in _CAPACITY_BILLING:
            on_demand = rate_for(self.machine_type, self.replicas)
            bound = f"; on demand: {on_demand.text()}" if on_demand.usd_per_hour is not None else ""
            return f"unknown for {self.capacity} ({where}): {_CAPACITY_BILLING[self.capacity]}{bound}"
        return f"unknown for {where}: no figure in vllm_vertex/pricing.py; see {PRICING_URL}"

    def label(self) -> str:
        """What the figure is and where it comes from (empty when unknown)."""
        return self.node.label() if self.node is not None and self.usd_per_hour is not None else ""


# Why a flex-start or reservation node has no figure here. Vertex, "Use Flex-start VMs with inference"
# (https://cloud.google.com/vertex-ai/docs/predictions/use-flex-start-vms), Billing: charged only while the workload
# runs, "Billing is distributed across two SKUs" (Compute Engine's and Vertex AI's management fee); "Flex-start VMs
# offer significant discounts". Google Cloud Japan's article (SKU_SOURCE) shows the fee SKUs ("Vertex AI:
# Online/Batch Prediction management fee on NVIDIA H100 80GB in Iowa", 1.4694826 USD/h) but no flex-start Compute
# Engine figure. Vertex, "Use reservations with inference" (.../predictions/use-reservations): the reservation is
# billed at the on-demand rate while it exists, used or not; a VM consuming it "doesn't incur separate charges".
_CAPACITY_BILLING = {
    "flex-start": "Vertex bills a flex-start (DWS) node as Compute Engine's flex-start SKU plus its management fee, "
    "discounted against on demand; no flex-start figure is held here (https://cloud.google.com/vertex-ai/docs/"
    "predictions/use-flex-start-vms)",
    "reservation": "the reservation is billed while it exists, used or not, at its Compute Engine rate; the deploy "
    "adds Vertex's management fee, with no figure here (https://cloud.google.com/vertex-ai/docs/predictions/"
    "use-reservations)",
}


def rate_for(machine_type: str, replicas: int = 1, spot: bool = False, capacity: str = "") -> Rate:
    """The hourly rate of ``replicas`` nodes of ``machine_type`` (``node`` is None when not in the table).

    ``capacity``: ``flex-start`` or ``reservation`` (``vllm_vertex.capacity.kind``); other kinds price as on demand.
    """
    billed = capacity if capacity in _CAPACITY_BILLING else ""
    return Rate(machine_type, replicas, PRICES.get(machine_type), spot, billed)


def estimated_cost(rate: Rate, deployed_seconds: float) -> float | None:
    """USD for ``deployed_seconds`` of the deployment (deployed time × hourly price), or ``None``."""
    per_hour = rate.usd_per_hour
    if per_hour is None or deployed_seconds < 0:
        return None
    return round(per_hour * deployed_seconds / 3600.0, 4)


def describe(rate: Rate, deployed_seconds: float) -> str:
    """``deployed 12.3 min × 1.00 USD/hour ≈ 0.21 USD`` or why the cost is unknown."""
    minutes = f"deployed {deployed_seconds / 60:.1f} min"
    cost, per_hour = estimated_cost(rate, deployed_seconds), rate.usd_per_hour
    if cost is None or per_hour is None:
        return f"{minutes}; estimated GPU cost unknown (price {rate.text()})"
    return f"{minutes} × {price_text(per_hour, rate.label())} ≈ ${cost:,.2f} (estimated GPU cost)"
