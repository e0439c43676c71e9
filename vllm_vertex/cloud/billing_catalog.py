"""Live prices: reads Vertex AI's SKUs from the Cloud Billing Catalog API and prices a node hour.

The catalogue is Google's public list price (what https://cloud.google.com/skus shows). It needs
no IAM role: only credentials and a project with ``cloudbilling.googleapis.com`` enabled (the
credentials' quota project). ``vllm_vertex.pricing_catalog`` does the matching; this module only
reads, page by page, with the official client (``google-cloud-billing``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from vllm_vertex.errors import CatalogError
from vllm_vertex.pricing_catalog import SERVICE_DISPLAY_NAME, CatalogPrice, SkuRecord, node_price

__all__ = ["API", "LivePrice", "catalog_client", "live_node_price", "read_skus"]

API = "cloudbilling.googleapis.com"
PAGE_SIZE = 5000  # the most the API returns per page
# The gcloud SDK's own project: user credentials without a quota project are billed to it, and errors name it.
GCLOUD_SHARED_PROJECT = "projects/764086051850"
# How ``plan`` does without live prices; other commands pass their own (``--no-live-prices``).
PLAN_OPT_OUT = "drop --live-prices to use the built-in table"


@dataclass(frozen=True)
class LivePrice:
    """A node-hour price read from the catalogue.

    Attributes:
        price: The priced parts and their SKUs (``price.usd_per_hour``).
        service: The catalogue service read, e.g. ``services/C7E2-9256-1C43``.
        read_on: The date it was read (YYYY-MM-DD, UTC).
    """

    price: CatalogPrice
    service: str
    read_on: str

    @property
    def source(self) -> str:
        return f"Cloud Billing Catalog API, {self.service}, read {self.read_on}"


def catalog_client():
    """``billing_v1.CloudCatalogClient`` (global service, REST)."""
    from google.cloud import billing_v1

    from vllm_vertex.cloud.context import current

    return current().gapic(billing_v1.CloudCatalogClient)


def _record(sku) -> SkuRecord:
    """A ``billing_v1.Sku`` as plain data (its latest pricing info)."""
    infos = list(sku.pricing_info)
    info = max(infos, key=lambda i: i.effective_time.timestamp() if i.effective_time else 0) if infos else None
    rates = list(info.pricing_expression.tiered_rates) if info else []
    return SkuRecord(
        sku.sku_id, sku.description, sku.category.usage_type, tuple(sku.service_regions),
        info.pricing_expression.usage_unit if info else "",
        tuple(r.unit_price.units + r.unit_price.nanos / 1e9 for r in rates),
        rates[0].unit_price.currency_code if rates else "",
    )


def read_skus(opt_out: str = PLAN_OPT_OUT,
              deadline: float = 120.0) -> tuple[str, list[SkuRecord]]:
    """The Vertex AI service's name and every one of its SKUs, in USD (all pages).

    Args:
        opt_out: How the user skips the lookup, ending the "API disabled" messages.
        deadline: Seconds of retries on transient errors, per call.

    Raises:
        CatalogError: the API is disabled, refused, or lists no "Vertex AI" service.
    """
    from google.api_core import exceptions

    from vllm_vertex.cloud import clients

    client = catalog_client()
    try:
        listed = client.list_services(request={"page_size": PAGE_SIZE}, retry=clients.retry(timeout=deadline))
        services = [s for s in listed if s.display_name == SERVICE_DISPLAY_NAME]
        if len(services) != 1:
            raise CatalogError(f"the Cloud Billing Catalog lists {len(services)} services named "
                               f"{SERVICE_DISPLAY_NAME!r}; expected one")
        name = services[0].name
        skus = [_record(s) for s in client.list_skus(
            request={"parent": name, "currency_code": "USD", "page_size": PAGE_SIZE},
            retry=clients.retry(timeout=deadline))]
    except (exceptions.Forbidden, exceptions.PermissionDenied, exceptions.Unauthenticated) as err:
        raise CatalogError(forbidden_message(err, opt_out), setup=True) from None
    return name, skus


def live_node_price(machine_type: str, region: str,
                    today: datetime.date | None = None, opt_out: str = PLAN_OPT_OUT,
                    deadline: float = 120.0) -> LivePrice:
    """The on-demand price of one node hour of ``machine_type`` in ``region``, read now.

    ``opt_out`` and ``deadline``: see ``read_skus``.

    Raises:
        CatalogError: the catalogue could not be read, or it has no single SKU for some part.
    """
    service, skus = read_skus(opt_out, deadline)
    price = node_price(skus, machine_type, region)
    if price.usd_per_hour is None:
        raise CatalogError(f"no live price for {machine_type} in {region} from the Cloud Billing Catalog "
                           f"({service}, {len(skus)} SKUs): {price.why_unknown()}")
    read_on = (today or datetime.datetime.now(datetime.UTC).date()).isoformat()
    return LivePrice(price, service, read_on)


def forbidden_message(err: Exception, opt_out: str = PLAN_OPT_OUT) -> str:
    """A 403 from the catalogue: the API is disabled in the quota project (name it, and the command), or refused.

    ``opt_out`` ends the messages whose fix is on the user's side: how to do without live prices.
    """
    reason = getattr(err, "reason", None)
    metadata = getattr(err, "metadata", None) or {}
    text = str(err)
    if "requires a quota project" in text or metadata.get("consumer") == GCLOUD_SHARED_PROJECT:
        return (
            f"your user credentials name no quota project, so the Cloud Billing Catalog call has no project to be "
            f"billed to. Set one that has {API} enabled: gcloud auth application-default set-quota-project PROJECT "
            f"(and gcloud services enable {API} --project=PROJECT), or {opt_out}."
        )
    if reason == "SERVICE_DISABLED" or "has not been used in project" in text or "it is disabled" in text:
        consumer = str(metadata.get("consumer", "")).removeprefix("projects/") or "PROJECT"
        return (
            f"the {API} API (Cloud Billing) is not enabled in project {consumer}, the project your credentials "
            f"bill API calls to, so live prices cannot be read. Enable it: gcloud services enable {API} "
            f"--project={consumer} (it takes a minute), or {opt_out}."
        )
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return (
        f"the Cloud Billing Catalog refused the request ({first}). It needs no IAM role, only credentials whose "
        f"quota project has {API} enabled: gcloud auth application-default set-quota-project PROJECT"
    )
