"""The Cloud Billing Catalog API (``cloudbilling.v1``): ``services.list`` and ``services.skus.list``.

Matched, query-checked and response-validated against ``cloudbilling.v1``'s discovery document like
the rest of the stand-in. Pages the way Google does: ``pageSize`` (at most 5000, 0 = the maximum)
and an opaque ``nextPageToken``, absent on the last page. ``catalog`` (``standin.billing``) starts
with ``default_catalog()``: Vertex AI's prediction SKUs for the presets' machines in us-central1, shaped
like the real ones, among decoys (training, management-fee, spot, other regions, Compute Engine).
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field

from .state import GoogleError

__all__ = ["Catalog", "ROUTES", "VERTEX_SERVICE", "default_catalog", "sku"]

VERTEX_SERVICE = "C7E2-9256-1C43"
COMPUTE_SERVICE = "6F81-5844-456A"
AMERICAS = ["us-central1", "us-east1", "us-east4", "us-west1", "us-west4", "northamerica-northeast1", "southamerica-east1"]
MAX_PAGE = 5000


def sku(sku_id: str, description: str, price: float, unit: str = "h", regions: list[str] | None = None,
        usage_type: str = "OnDemand", service: str = VERTEX_SERVICE, family: str = "ApplicationServices",
        group: str = "Prediction", display: str = "Vertex AI") -> dict:
    """A ``Sku`` in the catalogue's JSON form (one tier, USD)."""
    units, nanos = int(price), round((price - int(price)) * 1e9)
    unit_text = {"h": "hour", "GiBy.h": "gibibyte hour", "GiBy.mo": "gibibyte month"}.get(unit, unit)
    return {
        "name": f"services/{service}/skus/{sku_id}", "skuId": sku_id, "description": description,
        "category": {"serviceDisplayName": display, "resourceFamily": family, "resourceGroup": group,
                     "usageType": usage_type},
        "serviceRegions": list(regions or ["us-central1"]),
        "pricingInfo": [{
            "summary": "", "effectiveTime": "2026-11-01T08:00:00Z", "currencyConversionRate": 1,
            "pricingExpression": {
                "usageUnit": unit, "usageUnitDescription": unit_text, "displayQuantity": 1,
                "baseUnit": "s" if unit == "h" else "By.s", "baseUnitDescription": "second",
                "baseUnitConversionFactor": 3600 if unit == "h" else 3865470566400,
                "tieredRates": [{"startUsageAmount": 0,
                                 "unitPrice": {"currencyCode": "USD", "units": str(units), "nanos": nanos}}],
            },
            "aggregationInfo": {"aggregationLevel": "ACCOUNT", "aggregationInterval": "DAILY", "aggregationCount": 1},
        }],
        "serviceProviderName": "Google",
        "geoTaxonomy": {"type": "REGIONAL" if len(regions or ["us-central1"]) == 1 else "MULTI_REGIONAL",
                        "regions": list(regions or ["us-central1"])},
    }


P = "Vertex AI: Online/Batch Prediction"
T = "Vertex AI: Training/Pipelines on"
# The prediction SKUs a us-central1 node of each preset machine is billed by (prices are stand-in figures,
# except the A3 ones, which are Google Cloud Japan's August 2025 billing-report figures).
PRICED = {
    "G2-CORE": sku("1A2B-0000-G2CO", f"{P} G2 Instance Core running in Americas", 0.0282, regions=AMERICAS),
    "G2-RAM": sku("1A2B-0000-G2RA", f"{P} G2 Instance Ram running in Americas", 0.0033, "GiBy.h", AMERICAS),
    "L4": sku("1A2B-0000-L4GP", f"{P} Nvidia L4 GPU running in Iowa", 0.644),
    "A2-CORE": sku("F86F-168E-2FB6", f"{P} A2 Instance Core running in Americas", 0.0362, regions=AMERICAS),
    "A2-RAM": sku("2DBC-2378-4503", f"{P} A2 Instance Ram running in Americas", 0.0049, "GiBy.h", AMERICAS),
    "A100": sku("1A2B-0000-A100", f"{P} Nvidia Tesla A100 GPU running in Iowa", 3.37),
    "A3-CORE": sku("A002-4323-D900", f"{P} A3 Predefined Instance Core running in Iowa", 0.0293227),
    "A3-RAM": sku("2424-9F04-82A8", f"{P} A3 Predefined Instance Ram running in Iowa", 0.0025534, "GiBy.h"),
    "H100": sku("AE9C-DB60-DF46", f"{P} Nvidia H100 80gb GPU running in Iowa", 11.2660332),
}
DECOYS = [
    # the same parts elsewhere: another region, spot, training, management fees
    sku("D000-0000-0001", f"{P} Nvidia L4 GPU running in Belgium", 0.709, regions=["europe-west1"]),
    sku("D000-0000-0002", f"{P} G2 Instance Core running in EMEA", 0.031, regions=["europe-west1", "europe-west4"]),
    sku("D000-0000-0003", f"{P} Nvidia L4 GPU running in Iowa", 0.2, usage_type="Preemptible"),
    sku("D000-0000-0004", f"Spot {P} G2 Instance Core running in Americas", 0.01, regions=AMERICAS,
        usage_type="Preemptible"),
    sku("D000-0000-0005", f"{T} Nvidia L4 GPU running in Iowa", 0.644, group="Training"),
    sku("D000-0000-0006", f"{T} G2 Instance Core running in Americas", 0.0282, regions=AMERICAS, group="Training"),
    sku("D000-0000-0007", f"{T} G2 Instance Ram running in Americas", 0.0033, "GiBy.h", AMERICAS, group="Training"),
    sku("5853-505F-A5C4", "Vertex AI: Training/Pipelines management fee on NVIDIA H100 80GB in Iowa", 1.4694826),
    sku("F559-0525-B823", f"{P} management fee on A2 Instance Core in Iowa", 0.0047),
    sku("8714-C1C7-9ABD", f"{P} management fee on A2 Instance RAM in Iowa", 0.0006, "GiBy.h"),
    sku("1797-967A-274D", f"{P} management fee on NVIDIA H100 80GB in Iowa", 1.4694826),
    sku("72B6-EE31-7A41", f"{P} Nvidia A100 80gb GPU running in Iowa", 4.9),  # the 80 GB A100, not the 40 GB one
    sku("D000-0000-0008", f"{P} A3 Mega Instance Core running in Iowa", 0.03),
    sku("D000-0000-0009", f"{P} Nvidia H100 Mega 80gb GPU running in Iowa", 12.0),
    sku("D000-0000-0010", f"{P} N1 Predefined Instance Core running in Americas", 0.0435, regions=AMERICAS),
    sku("D000-0000-0011", f"{P} Nvidia L4 GPU running in Iowa", 0.5, usage_type="Commit1Yr"),
]
COMPUTE = [  # Compute Engine's own (different, lower) price list: another service
    sku("C000-0000-0001", "G2 Instance Core running in Americas", 0.024988, regions=AMERICAS, service=COMPUTE_SERVICE,
        family="Compute", group="CPU", display="Compute Engine"),
    sku("C000-0000-0002", "Nvidia L4 GPU running in Americas", 0.56, regions=AMERICAS, service=COMPUTE_SERVICE,
        family="Compute", group="GPU", display="Compute Engine"),
    sku("C000-0000-0003", "Nvidia L4 GPU attached to Spot Preemptible VMs running in Americas", 0.22,
        regions=AMERICAS, service=COMPUTE_SERVICE, family="Compute", group="GPU", display="Compute Engine",
        usage_type="Preemptible"),
]


def default_catalog() -> dict:
    """Services (ID → display name) and SKUs per service ID, decoys interleaved with the real parts."""
    vertex = []
    for i, item in enumerate(list(PRICED.values())):
        vertex.append(item)
        vertex.extend(DECOYS[i * 2:i * 2 + 2])
    vertex.extend(DECOYS[len(PRICED) * 2:])
    services = {COMPUTE_SERVICE: "Compute Engine", "95FF-2EF5-5EA1": "Cloud Storage", VERTEX_SERVICE: "Vertex AI",
                "152E-C115-5142": "Cloud Run"}
    return {"services": services, "skus": {VERTEX_SERVICE: vertex, COMPUTE_SERVICE: list(COMPUTE)}}


@dataclass
class Catalog:
    """``standin.billing``: what the catalogue lists; tests change ``data`` under ``lock``."""

    data: dict = field(default_factory=default_catalog)
    lock: threading.RLock = field(default_factory=threading.RLock)
    page_requests: list = field(default_factory=list)  # (method, pageSize, pageToken) of each call

    def set_skus(self, service_id: str, skus: list[dict]) -> None:
        with self.lock:
            self.data["skus"][service_id] = list(skus)


def _page(items: list, query: dict, method: str, catalog: Catalog) -> tuple[list, str]:
    size = int(query.get("pageSize") or 0)
    if size < 0:
        raise GoogleError(400, "pageSize must not be negative")
    size = min(size or MAX_PAGE, MAX_PAGE)
    token = query.get("pageToken", "")
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError as e:
        raise GoogleError(400, "Invalid page token.") from e
    catalog.page_requests.append((method, size, token))
    end = start + size
    nxt = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else ""
    return items[start:end], nxt


def list_services(standin, req) -> dict:
    catalog = standin.billing
    with catalog.lock:
        services = [{"name": f"services/{sid}", "serviceId": sid, "displayName": name,
                     "businessEntityName": "businessEntities/GCP"} for sid, name in catalog.data["services"].items()]
        page, nxt = _page(services, req.query, "services", catalog)
    out = {"services": page}
    if nxt:
        out["nextPageToken"] = nxt
    return out


def list_skus(standin, req) -> dict:
    catalog = standin.billing
    sid = req.param("servicesId")
    currency = req.query.get("currencyCode", "USD")
    if currency != "USD":
        raise GoogleError(400, f"The stand-in prices only in USD, not {currency}.")
    with catalog.lock:
        if sid not in catalog.data["services"]:
            raise GoogleError(404, f"Service services/{sid} not found.")
        page, nxt = _page(list(catalog.data["skus"].get(sid, [])), req.query, f"skus:{sid}", catalog)
    out = {"skus": page}
    if nxt:
        out["nextPageToken"] = nxt
    return out


ROUTES = {"cloudbilling.services.list": list_services, "cloudbilling.services.skus.list": list_skus}
