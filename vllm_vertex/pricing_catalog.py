"""A node hour's price from Google's Cloud Billing Catalog SKUs (Vertex AI online prediction). Pure.

Vertex AI bills a deployed node as its parts: every vCPU, every GB of RAM and every GPU, each at
the unit price of its own SKU in the Vertex AI service of the catalogue. So the price of one node
hour is ``vCPUs × core price + RAM GB × RAM price + GPUs × GPU price``, read from three SKUs.

Which SKUs (what was verified, and where; searched 2026-11-27):

- The catalogue's Vertex AI service is ``services/C7E2-9256-1C43`` (display name "Vertex AI"), as
  two programs that read the live catalogue name it (a Python price check, a TypeScript rate reader).
  The client looks the service up by its display name rather than trusting the ID.
- Online prediction SKUs start with ``Vertex AI: Online/Batch Prediction`` followed by the part and
  ``running in <place>``. Seen verbatim: "... Nvidia H100 80gb GPU running in Iowa"
  (AE9C-DB60-DF46), "... A3 Predefined Instance Core running in Iowa" (A002-4323-D900), "... A3
  Predefined Instance Ram running in Iowa" (2424-9F04-82A8) in Google Cloud Japan's billing-report
  article (https://zenn.dev/google_cloud_jp/articles/dws-flex-new-skus, August 2025); "... Nvidia
  A100 80gb GPU running in Iowa" (unit ``h``), "... A2 Instance Core running in Americas" (``h``),
  "... A2 Instance Ram running in Americas" (``GiBy.h``) in a TypeScript reader of the live catalogue;
  "... N1 Predefined Instance Core running in" / "... Ram running in" in a Python price check of the
  live catalogue. So the place is a city ("Iowa": one region) or a continent ("Americas": many
  regions), the word "Predefined" comes and goes, and a GPU is "Nvidia <model> GPU".
- Not prices of an on-demand node, and refused here: "Vertex AI: Training/Pipelines on ..." (training),
  "Vertex AI: Online/Batch Prediction management fee on A2 Instance Core in Iowa" (the fee Vertex adds
  to Compute Engine's price for spot, reservations and Flex-start nodes), Compute Engine's own SKUs
  ("G2 Instance Core running in Americas", "Spot Preemptible ...", "... attached to Spot Preemptible
  VMs ..."), and any SKU whose ``usage_type`` is not ``OnDemand`` (``Preemptible``, commitments).
- Not seen verbatim: the G2/L4, A2/A100-40GB and A3 Ultra/H200 prediction SKUs. Matching therefore takes
  each part's shape, not one exact string: ``<FAMILY> [Predefined] [Instance] Core|Ram`` and ``Nvidia L4
  GPU``, ``Nvidia [Tesla] A100 [40gb] GPU`` (the 80 GB one says "80gb"), ``Nvidia H100 80gb GPU``,
  ``Nvidia H200 [141gb] GPU``. a3-ultragpu's cores and RAM take the family "A3 Ultra" (as A3 Mega has its
  own "A3 Mega Instance Core"), so plain A3 SKUs never price it.

Zero or several SKUs for one part (in the region, on demand, in the right unit) is no price: the
result says which part and why, and names the candidates, rather than pick one.

Machine shapes (``SHAPES``): vCPUs and memory from Compute Engine's accelerator-optimized machine
tables (the presets': g2-standard-8: 8 vCPUs, 32 GB, 1 L4; g2-standard-12: 12, 48, 1 L4;
g2-standard-96: 96, 384, 8 L4; a2-highgpu-1g: 12, 85, 1 A100 40GB; a3-highgpu-8g: 208, 1,872, 8 H100
80GB, the last also in Google Cloud Japan's article, which gives a3-highgpu-1g as 26, 234, 1 H100; the
other G2 shapes keep G2's 4 GB per vCPU; a2-highgpu-Ng and a2-ultragpu-Ng are N times their 1g shape
(85 and 170 GB per GPU); a3-ultragpu-8g: 224 vCPUs, 2,952 GB, 8 H200 141GB).
Compute Engine's "GB" of machine memory is the GiB its RAM SKUs bill per hour (``GiBy.h``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "PREDICTION_PREFIX",
    "SERVICE_DISPLAY_NAME",
    "SHAPES",
    "CatalogPrice",
    "Component",
    "Shape",
    "SkuRecord",
    "node_price",
]

SERVICE_DISPLAY_NAME = "Vertex AI"
PREDICTION_PREFIX = "Vertex AI: Online/Batch Prediction"


@dataclass(frozen=True)
class Shape:
    """What one node of a machine type is billed for.

    Attributes:
        machine_type: e.g. ``g2-standard-12``.
        family: The SKU family word, e.g. ``G2``.
        vcpus: vCPUs per node.
        memory_gb: Memory per node (billed per GiB hour).
        accelerator_type: Vertex GPU enum.
        accelerator_count: GPUs per node.
    """

    machine_type: str
    family: str
    vcpus: int
    memory_gb: float
    accelerator_type: str
    accelerator_count: int


SHAPES: dict[str, Shape] = {
    s.machine_type: s
    for s in (
        # G2: 4 GB per vCPU, a fixed number of L4s per shape.
        Shape("g2-standard-4", "G2", 4, 16, "NVIDIA_L4", 1),
        Shape("g2-standard-8", "G2", 8, 32, "NVIDIA_L4", 1),
        Shape("g2-standard-12", "G2", 12, 48, "NVIDIA_L4", 1),
        Shape("g2-standard-16", "G2", 16, 64, "NVIDIA_L4", 1),
        Shape("g2-standard-24", "G2", 24, 96, "NVIDIA_L4", 2),
        Shape("g2-standard-32", "G2", 32, 128, "NVIDIA_L4", 1),
        Shape("g2-standard-48", "G2", 48, 192, "NVIDIA_L4", 4),
        Shape("g2-standard-96", "G2", 96, 384, "NVIDIA_L4", 8),
        # A2 High: 12 vCPUs and 85 GB per A100 40GB; A2 Ultra: 12 vCPUs and 170 GB per A100 80GB.
        *(Shape(f"a2-highgpu-{n}g", "A2", 12 * n, 85 * n, "NVIDIA_TESLA_A100", n) for n in (1, 2, 4, 8)),
        *(Shape(f"a2-ultragpu-{n}g", "A2", 12 * n, 170 * n, "NVIDIA_A100_80GB", n) for n in (1, 2, 4, 8)),
        # A3 High: 26 vCPUs and 234 GB per H100; A3 Ultra: 224 vCPUs, 2,952 GB, 8 H200 141GB.
        *(Shape(f"a3-highgpu-{n}g", "A3", 26 * n, 234 * n, "NVIDIA_H100_80GB", n) for n in (1, 2, 4, 8)),
        Shape("a3-ultragpu-8g", "A3 Ultra", 224, 2952, "NVIDIA_H200_141GB", 8),
    )
}

# The part of a prediction SKU's description between the prefix and " running in <place>".
_GPU_PARTS = {
    "NVIDIA_L4": r"nvidia l4 gpu",
    "NVIDIA_TESLA_A100": r"nvidia (?:tesla )?a100(?: 40gb)? gpu",
    "NVIDIA_A100_80GB": r"nvidia a100 80gb gpu",
    "NVIDIA_H100_80GB": r"nvidia h100 80gb gpu",
    "NVIDIA_H200_141GB": r"nvidia h200(?: 141gb)? gpu",
}
_UNITS = {"core": "h", "ram": "GiBy.h", "gpu": "h"}
_DESCRIPTION = re.compile(r"^" + re.escape(PREDICTION_PREFIX) + r"\s+(?P<part>.+?)\s+running in\s+(?P<place>\S.*)$",
                          re.IGNORECASE)


@dataclass(frozen=True)
class SkuRecord:
    """The fields of one catalogue SKU that pricing needs (plain data; the client fills it).

    Attributes:
        sku_id: e.g. ``A002-4323-D900``.
        description: e.g. ``Vertex AI: Online/Batch Prediction A3 Predefined Instance Core running in Iowa``.
        usage_type: ``category.usage_type``: ``OnDemand``, ``Preemptible``, ``Commit1Yr`` ...
        service_regions: Regions the SKU is sold in.
        usage_unit: ``pricing_expression.usage_unit``, e.g. ``h`` or ``GiBy.h``.
        unit_prices: The unit price of each tier, in ``currency``.
        currency: ``unit_price.currency_code``.
    """

    sku_id: str
    description: str
    usage_type: str
    service_regions: tuple[str, ...]
    usage_unit: str
    unit_prices: tuple[float, ...]
    currency: str = "USD"

    @classmethod
    def from_json(cls, sku: dict) -> SkuRecord:
        """From the catalogue's JSON form of a ``Sku`` (camelCase, the latest ``pricingInfo``)."""
        info = (sku.get("pricingInfo") or [{}])[-1]
        expression = info.get("pricingExpression") or {}
        rates = expression.get("tieredRates") or []
        prices = tuple(int((r.get("unitPrice") or {}).get("units") or 0)
                       + int((r.get("unitPrice") or {}).get("nanos") or 0) / 1e9 for r in rates)
        currency = next(((r.get("unitPrice") or {}).get("currencyCode", "") for r in rates), "")
        return cls(sku.get("skuId", ""), sku.get("description", ""), (sku.get("category") or {}).get("usageType", ""),
                   tuple(sku.get("serviceRegions") or ()), expression.get("usageUnit", ""), prices, currency)


@dataclass(frozen=True)
class Component:
    """One billed part of a node: ``quantity × unit_price``."""

    kind: str  # "core", "ram" or "gpu"
    quantity: float
    sku_id: str
    description: str
    unit_price: float

    @property
    def usd_per_hour(self) -> float:
        return self.quantity * self.unit_price

    def text(self) -> str:
        what = {"core": "vCPU", "ram": "GB RAM", "gpu": "GPU"}[self.kind]
        return f"{self.quantity:g} {what} × {self.unit_price:.7g} USD ({self.sku_id})"


@dataclass(frozen=True)
class CatalogPrice:
    """One node hour of ``machine_type`` in ``region``: the sum of its parts, or why it is unknown.

    Attributes:
        machine_type: The machine type priced.
        region: The region priced.
        components: The parts found (all three when the price is known).
        problems: One line per part that has no single SKU (empty when the price is known).
    """

    machine_type: str
    region: str
    components: tuple[Component, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def usd_per_hour(self) -> float | None:
        if self.problems or not self.components:
            return None
        return round(sum(c.usd_per_hour for c in self.components), 6)

    @property
    def sku_ids(self) -> tuple[str, ...]:
        return tuple(c.sku_id for c in self.components)

    def why_unknown(self) -> str:
        return "; ".join(self.problems)


def _part_pattern(kind: str, shape: Shape) -> re.Pattern:
    if kind == "gpu":
        body = _GPU_PARTS[shape.accelerator_type]
    else:
        body = re.escape(shape.family.lower()) + r"(?: predefined)?(?: instance)? " + kind
    return re.compile(rf"^{body}$", re.IGNORECASE)


def _candidates(skus: list[SkuRecord], kind: str, shape: Shape, region: str) -> list[SkuRecord]:
    """Prediction SKUs of this part sold on demand in ``region`` (any unit: the caller checks it).

    The part must be the whole text between the prefix and "running in": "management fee on ...",
    "... Virtual Workstation GPU" or "A3 Mega Instance Core" are other parts.
    """
    pattern = _part_pattern(kind, shape)
    out = []
    for sku in skus:
        m = _DESCRIPTION.match(sku.description.strip())
        if not m:  # management fees ("... management fee on A2 Instance Core in Iowa") have no "running in"
            continue
        if pattern.match(re.sub(r"\s+", " ", m.group("part"))) and sku.usage_type == "OnDemand" \
                and region in sku.service_regions:
            out.append(sku)
    return out


def node_price(skus: Iterable[SkuRecord], machine_type: str, region: str) -> CatalogPrice:
    """The on-demand Vertex AI prediction price of one node hour of ``machine_type`` in ``region``.

    Every part (cores, RAM, GPUs) needs exactly one SKU that is a prediction SKU of that part, sold
    ``OnDemand`` in ``region``, billed in its unit (``h``, ``GiBy.h``), in USD, at a single price.
    Anything else leaves the price unknown with the reason, part by part.
    """
    shape = SHAPES.get(machine_type)
    if shape is None:
        return CatalogPrice(machine_type, region, (), (
            f"{machine_type} is not a priced shape (known: {', '.join(SHAPES)})",))
    pool = list(skus)
    quantities = {"core": shape.vcpus, "ram": shape.memory_gb, "gpu": shape.accelerator_count}
    found: list[Component] = []
    problems: list[str] = []
    for kind, quantity in quantities.items():
        name = f"{shape.family} {kind}" if kind != "gpu" else shape.accelerator_type
        matches = _candidates(pool, kind, shape, region)
        if not matches:
            problems.append(f"no on-demand '{PREDICTION_PREFIX}' SKU for {name} in {region}")
            continue
        if len(matches) > 1:
            ids = ", ".join(f"{s.sku_id} ({s.description})" for s in matches[:4])
            problems.append(f"{len(matches)} SKUs match {name} in {region}, refusing to choose: {ids}")
            continue
        sku = matches[0]
        distinct = sorted(set(sku.unit_prices))
        if sku.usage_unit != _UNITS[kind]:
            problems.append(f"{sku.sku_id} ({name}) is billed per {sku.usage_unit!r}, not {_UNITS[kind]!r}")
        elif sku.currency != "USD":
            problems.append(f"{sku.sku_id} ({name}) is priced in {sku.currency or 'no currency'}, not USD")
        elif len(distinct) != 1 or distinct[0] <= 0:
            problems.append(f"{sku.sku_id} ({name}) has no single positive unit price: {list(sku.unit_prices)}")
        else:
            found.append(Component(kind, quantity, sku.sku_id, sku.description, distinct[0]))
    return CatalogPrice(machine_type, region, tuple(found), tuple(problems))
