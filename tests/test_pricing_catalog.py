"""Live prices: the SKU matching (pure), the Cloud Billing Catalog client against the stand-in, and
``plan --live-prices`` (text, JSON, API disabled, refused, no matching SKU, no credentials)."""

from __future__ import annotations

import datetime
import json

import pytest

from tests.cli_support import invoke
from tests.standin import billing as catalog_data
from vllm_vertex import hardware, recipes
from vllm_vertex.pricing_catalog import SHAPES, SkuRecord, node_price

P = "Vertex AI: Online/Batch Prediction"
REGION = "us-central1"


def records(skus=None) -> list[SkuRecord]:
    """The stand-in's Vertex AI SKUs (decoys included) as the client hands them to the pure core."""
    data = catalog_data.default_catalog()["skus"][catalog_data.VERTEX_SERVICE] if skus is None else skus
    return [SkuRecord.from_json(s) for s in data]


def rec(sku_id, description, price, unit="h", regions=(REGION,), usage_type="OnDemand", prices=None, currency="USD"):
    return SkuRecord(sku_id, description, usage_type, tuple(regions), unit, tuple(prices or (price,)), currency)


G2_CORE = rec("CORE", f"{P} G2 Instance Core running in Americas", 0.03, regions=(REGION, "us-east1"))
G2_RAM = rec("RAM", f"{P} G2 Instance Ram running in Americas", 0.004, "GiBy.h", regions=(REGION, "us-east1"))
L4 = rec("GPU", f"{P} Nvidia L4 GPU running in Iowa", 0.7)


# --- the pure function ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("machine, skus, usd", [
    ("g2-standard-8", ("1A2B-0000-G2CO", "1A2B-0000-G2RA", "1A2B-0000-L4GP"), 8 * 0.0282 + 32 * 0.0033 + 0.644),
    ("g2-standard-12", ("1A2B-0000-G2CO", "1A2B-0000-G2RA", "1A2B-0000-L4GP"), 12 * 0.0282 + 48 * 0.0033 + 0.644),
    ("g2-standard-96", ("1A2B-0000-G2CO", "1A2B-0000-G2RA", "1A2B-0000-L4GP"), 96 * 0.0282 + 384 * 0.0033 + 8 * 0.644),
    ("a2-highgpu-1g", ("F86F-168E-2FB6", "2DBC-2378-4503", "1A2B-0000-A100"), 12 * 0.0362 + 85 * 0.0049 + 3.37),
    # Google Cloud Japan's A3 unit prices: 208 vCPUs + 1,872 GB + 8 H100s
    ("a3-highgpu-8g", ("A002-4323-D900", "2424-9F04-82A8", "AE9C-DB60-DF46"), 101.007352),
])
def test_each_preset_machine_is_priced_from_its_three_prediction_skus_among_decoys(machine, skus, usd):
    price = node_price(records(), machine, REGION)
    assert price.problems == ()
    assert price.sku_ids == skus
    assert price.usd_per_hour == pytest.approx(usd, abs=1e-6)


def test_every_preset_machine_has_a_shape_that_agrees_with_the_hardware_table():
    for preset in recipes.PRESETS.values():
        shape = SHAPES[preset.machine_type]
        machine = hardware.MACHINE_TYPES[preset.machine_type]
        assert (shape.vcpus, shape.accelerator_type) == (machine.vcpus, machine.accelerator_type)
        assert shape.accelerator_count == preset.accelerator_count and shape.accelerator_count in machine.accelerator_counts
        family = "A3 Ultra" if preset.machine_type.startswith("a3-ultragpu") else preset.machine_type.split("-")[0].upper()
        assert shape.family == family  # a3-ultragpu's cores and RAM have SKUs of their own ("A3 Ultra")
    for shape in SHAPES.values():  # the extra shapes too
        machine = hardware.MACHINE_TYPES[shape.machine_type]
        assert (shape.vcpus, shape.accelerator_type, (shape.accelerator_count,)) == (
            machine.vcpus, machine.accelerator_type, machine.accelerator_counts)


@pytest.mark.parametrize("gpu", [
    rec("X", f"{P} Nvidia L4 GPU running in Belgium", 0.7, regions=("europe-west1",)),  # another region
    rec("X", f"{P} Nvidia L4 GPU running in Iowa", 0.2, usage_type="Preemptible"),  # spot
    rec("X", f"{P} Nvidia L4 GPU running in Iowa", 0.5, usage_type="Commit1Yr"),  # a commitment
    rec("X", "Vertex AI: Training/Pipelines on Nvidia L4 GPU running in Iowa", 0.7),  # training
    rec("X", f"{P} management fee on NVIDIA L4 in Iowa", 0.1),  # the fee on Compute Engine's price
    rec("X", f"{P} management fee on Nvidia L4 GPU running in Iowa", 0.1),
    rec("X", "Nvidia L4 GPU running in Americas", 0.56),  # Compute Engine's own SKU
    rec("X", "Nvidia L4 GPU attached to Spot Preemptible VMs running in Americas", 0.22),
    rec("X", f"Spot {P} Nvidia L4 GPU running in Iowa", 0.2),
    rec("X", f"{P} Nvidia L4 Virtual Workstation GPU running in Iowa", 0.9),  # another product on the same GPU
    rec("X", f"{P} Nvidia L4 GPU", 0.7),  # no place: not the catalogue's form
])
def test_a_decoy_is_never_taken_for_the_gpu(gpu):
    price = node_price([G2_CORE, G2_RAM, gpu], "g2-standard-12", REGION)
    assert price.usd_per_hour is None
    assert price.problems == (f"no on-demand '{P}' SKU for NVIDIA_L4 in {REGION}",)


@pytest.mark.parametrize("machine, wrong", [
    ("a2-highgpu-1g", rec("X", f"{P} Nvidia A100 80gb GPU running in Iowa", 4.9)),  # the 80 GB A100
    ("a3-highgpu-8g", rec("X", f"{P} Nvidia H100 Mega 80gb GPU running in Iowa", 12.0)),  # a3-megagpu's H100
])
def test_a_sibling_gpu_model_is_not_taken(machine, wrong):
    shape = SHAPES[machine]
    fam = shape.family
    parts = [rec("C", f"{P} {fam} Instance Core running in Iowa", 0.03),
             rec("R", f"{P} {fam} Instance Ram running in Iowa", 0.003, "GiBy.h"), wrong]
    assert "SKU for " + shape.accelerator_type in node_price(parts, machine, REGION).why_unknown()


@pytest.mark.parametrize("core, gpu", [
    (f"{P} G2 Instance Core running in Americas", f"{P} Nvidia L4 GPU running in Iowa"),
    (f"{P} G2 Predefined Instance Core running in Iowa", f"{P} NVIDIA L4 GPU running in Iowa"),
    (f"{P} G2 Core running in Americas", f"{P}  Nvidia L4 GPU  running in Iowa"),
    ("vertex ai: online/batch prediction g2 instance core running in americas", f"{P} Nvidia L4 GPU running in Iowa"),
])
def test_description_variants_of_the_same_part_are_accepted(core, gpu):
    price = node_price([rec("C", core, 0.03), G2_RAM, rec("G", gpu, 0.7)], "g2-standard-8", REGION)
    assert price.usd_per_hour == pytest.approx(8 * 0.03 + 32 * 0.004 + 0.7)


@pytest.mark.parametrize("description", [f"{P} Nvidia Tesla A100 GPU running in Iowa", f"{P} Nvidia A100 GPU running in Iowa",
                                         f"{P} Nvidia A100 40gb GPU running in Iowa"])
def test_the_40gb_a100_is_named_with_or_without_tesla(description):
    parts = [rec("C", f"{P} A2 Instance Core running in Americas", 0.04),
             rec("R", f"{P} A2 Instance Ram running in Americas", 0.005, "GiBy.h"), rec("G", description, 3.0)]
    assert node_price(parts, "a2-highgpu-1g", REGION).usd_per_hour == pytest.approx(12 * 0.04 + 85 * 0.005 + 3.0)


@pytest.mark.parametrize("gpu", [f"{P} Nvidia H200 141gb GPU running in Iowa", f"{P} Nvidia H200 GPU running in Iowa"])
def test_a3_ultragpu_takes_the_h200_and_a3_ultra_parts_never_plain_a3(gpu):
    ultra = [rec("UC", f"{P} A3 Ultra Instance Core running in Iowa", 0.03),
             rec("UR", f"{P} A3 Ultra Instance Ram running in Iowa", 0.003, "GiBy.h"), rec("H200", gpu, 12.0)]
    plain = [rec("C", f"{P} A3 Predefined Instance Core running in Iowa", 0.0293227),
             rec("R", f"{P} A3 Predefined Instance Ram running in Iowa", 0.0025534, "GiBy.h"),
             rec("H100", f"{P} Nvidia H100 80gb GPU running in Iowa", 11.27)]
    price = node_price(ultra + plain, "a3-ultragpu-8g", REGION)
    assert price.sku_ids == ("UC", "UR", "H200")
    assert price.usd_per_hour == pytest.approx(224 * 0.03 + 2952 * 0.003 + 8 * 12.0)
    only_plain = node_price(plain, "a3-ultragpu-8g", REGION)
    assert only_plain.usd_per_hour is None and len(only_plain.problems) == 3  # no A3 Ultra core, RAM nor H200


def test_a2_ultragpu_takes_the_80gb_a100_and_twice_the_ram_of_a2_highgpu():
    parts = [rec("C", f"{P} A2 Instance Core running in Americas", 0.04),
             rec("R", f"{P} A2 Instance Ram running in Americas", 0.005, "GiBy.h"),
             rec("A40", f"{P} Nvidia Tesla A100 GPU running in Iowa", 3.0),
             rec("A80", f"{P} Nvidia A100 80gb GPU running in Iowa", 4.0)]
    assert node_price(parts, "a2-ultragpu-2g", REGION).sku_ids == ("C", "R", "A80")
    assert node_price(parts, "a2-ultragpu-2g", REGION).usd_per_hour == pytest.approx(24 * 0.04 + 340 * 0.005 + 8.0)
    assert node_price(parts, "a2-highgpu-4g", REGION).usd_per_hour == pytest.approx(48 * 0.04 + 340 * 0.005 + 12.0)


def test_two_skus_for_one_part_are_refused_and_named():
    city = rec("IOWA", f"{P} G2 Instance Core running in Iowa", 0.031)
    price = node_price([G2_CORE, city, G2_RAM, L4], "g2-standard-12", REGION)
    assert price.usd_per_hour is None
    assert price.why_unknown().startswith(f"2 SKUs match G2 core in {REGION}, refusing to choose: CORE (")
    assert "IOWA (" in price.why_unknown()
    # in a region only one of them covers, there is no ambiguity
    assert node_price([G2_CORE, city, G2_RAM, rec("G", L4.description, 0.7, regions=("us-east1",))],
                      "g2-standard-12", "us-east1").usd_per_hour == pytest.approx(12 * 0.03 + 48 * 0.004 + 0.7)


@pytest.mark.parametrize("ram, why", [
    (rec("RAM", G2_RAM.description, 0.004, unit="h"), "RAM (G2 ram) is billed per 'h', not 'GiBy.h'"),
    (rec("RAM", G2_RAM.description, 0.004, "GiBy.h", currency="EUR"), "priced in EUR, not USD"),
    (rec("RAM", G2_RAM.description, 0.0, "GiBy.h"), "no single positive unit price"),
    (rec("RAM", G2_RAM.description, 0, "GiBy.h", prices=(0.004, 0.003)), "no single positive unit price: [0.004, 0.003]"),
])
def test_a_part_in_the_wrong_unit_currency_or_tiers_leaves_the_price_unknown(ram, why):
    price = node_price([G2_CORE, ram, L4], "g2-standard-12", REGION)
    assert price.usd_per_hour is None and why in price.why_unknown()
    assert len(price.problems) == 1 and len(price.components) == 2


def test_a_machine_without_a_shape_and_an_empty_catalogue_say_why():
    assert "n1-standard-4 is not a priced shape" in node_price(records(), "n1-standard-4", REGION).why_unknown()
    empty = node_price([], "g2-standard-12", REGION)
    assert empty.usd_per_hour is None and len(empty.problems) == 3


def test_sku_record_reads_the_catalogue_json():
    sku = catalog_data.PRICED["H100"]
    record = SkuRecord.from_json(sku)
    assert record == SkuRecord("AE9C-DB60-DF46", f"{P} Nvidia H100 80gb GPU running in Iowa", "OnDemand",
                               (REGION,), "h", (pytest.approx(11.2660332),), "USD")


# --- the client against the stand-in -----------------------------------------------------------------------------

SERVICE_DISABLED = [{
    "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED", "domain": "googleapis.com",
    "metadata": {"service": "cloudbilling.googleapis.com", "consumer": "projects/my-quota-project"},
}]
DISABLED_TEXT = ("Cloud Billing API has not been used in project my-quota-project before or it is disabled. Enable it "
                 "by visiting https://console.developers.google.com/apis/api/cloudbilling.googleapis.com/overview?"
                 "project=my-quota-project then retry.")


def test_client_reads_every_page_and_prices_like_the_pure_function(standin, monkeypatch):
    from vllm_vertex.cloud import billing_catalog

    monkeypatch.setattr(billing_catalog, "PAGE_SIZE", 4)
    live = billing_catalog.live_node_price("a3-highgpu-8g", REGION, today=datetime.date(2026, 11, 27))
    assert live.source == "Cloud Billing Catalog API, services/C7E2-9256-1C43, read 2026-11-27"
    assert live.price == node_price(records(), "a3-highgpu-8g", REGION)
    sku_pages = [r for r in standin.billing.page_requests if r[0].startswith("skus:")]
    total = len(catalog_data.default_catalog()["skus"][catalog_data.VERTEX_SERVICE])
    assert len(sku_pages) == -(-total // 4) and sku_pages[0][2] == "" and all(r[2] for r in sku_pages[1:])
    assert all(size == 4 for _, size, _ in standin.billing.page_requests)
    assert any("currencyCode=USD" in path for _, path, _ in standin.requests)


def test_client_finds_the_vertex_service_by_its_display_name(standin):
    from vllm_vertex.cloud import billing_catalog

    with standin.billing.lock:  # another ID: the client must not assume C7E2-9256-1C43
        skus = standin.billing.data["skus"].pop(catalog_data.VERTEX_SERVICE)
        del standin.billing.data["services"][catalog_data.VERTEX_SERVICE]
        standin.billing.data["services"]["AAAA-BBBB-CCCC"] = "Vertex AI"
        standin.billing.data["skus"]["AAAA-BBBB-CCCC"] = skus
    live = billing_catalog.live_node_price("g2-standard-12", REGION)
    assert live.service == "services/AAAA-BBBB-CCCC" and live.price.usd_per_hour == pytest.approx(1.1408)
    with standin.billing.lock:
        del standin.billing.data["services"]["AAAA-BBBB-CCCC"]
    with pytest.raises(billing_catalog.CatalogError, match="lists 0 services named 'Vertex AI'"):
        billing_catalog.read_skus()


def test_client_api_disabled_names_the_api_the_project_and_the_command(standin):
    from vllm_vertex.cloud import billing_catalog

    standin.faults.add("cloudbilling.services.list", status=403, details=SERVICE_DISABLED, message=DISABLED_TEXT)
    with pytest.raises(billing_catalog.CatalogError) as info:
        billing_catalog.live_node_price("g2-standard-12", REGION)
    assert info.value.setup
    assert "gcloud services enable cloudbilling.googleapis.com --project=my-quota-project" in str(info.value)


def test_client_other_403_says_no_role_is_needed_only_the_quota_project(standin):
    from vllm_vertex.cloud import billing_catalog

    standin.faults.add("cloudbilling.services.skus.list", status=403, message="The caller does not have permission")
    with pytest.raises(billing_catalog.CatalogError) as info:
        billing_catalog.live_node_price("g2-standard-12", REGION)
    assert info.value.setup and "needs no IAM role" in str(info.value)
    assert "gcloud auth application-default set-quota-project" in str(info.value)


@pytest.mark.parametrize("details, message", [
    ([{**SERVICE_DISABLED[0], "metadata": {"service": "cloudbilling.googleapis.com",
                                            "consumer": "projects/764086051850"}}],
     DISABLED_TEXT.replace("my-quota-project", "764086051850")),
    (None, "Your application is authenticating by using local Application Default Credentials. The "
           "cloudbilling.googleapis.com API requires a quota project, which is not set by default."),
])
def test_client_user_credentials_without_a_quota_project_are_told_to_set_one(standin, details, message):
    from vllm_vertex.cloud import billing_catalog

    standin.faults.add("cloudbilling.services.list", status=403, details=details, message=message)
    with pytest.raises(billing_catalog.CatalogError) as info:
        billing_catalog.read_skus()
    text = str(info.value)
    assert info.value.setup and text.startswith("your user credentials name no quota project")
    assert "gcloud auth application-default set-quota-project PROJECT" in text and "764086051850" not in text


def test_client_no_matching_sku_names_the_part(standin):
    from vllm_vertex.cloud import billing_catalog

    standin.billing.set_skus(catalog_data.VERTEX_SERVICE,
                             [s for s in records_json() if s["skuId"] != catalog_data.PRICED["L4"]["skuId"]])
    with pytest.raises(billing_catalog.CatalogError) as info:
        billing_catalog.live_node_price("g2-standard-12", REGION)
    assert not info.value.setup
    assert f"no on-demand '{P}' SKU for NVIDIA_L4 in {REGION}" in str(info.value)


def records_json() -> list[dict]:
    return list(catalog_data.default_catalog()["skus"][catalog_data.VERTEX_SERVICE])


# --- the CLI --------------------------------------------------------------------------------------------------

def test_plan_live_prices_text_and_json(standin):
    result = invoke(standin, "plan", "--preset", "llama-3.1-70b-instruct", "--live-prices")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "hardware: g2-standard-96 with 8x NVIDIA_L4 (22.03 GiB each)"
    assert lines[1].startswith("price: $9.13/h (live: Vertex AI prediction, "
                               "on-demand list price in us-central1; Cloud Billing Catalog API, "
                               "services/C7E2-9256-1C43, read ")
    assert lines[1].endswith(") for 1 replica of g2-standard-96")
    assert lines[2] == ("  SKUs: 96 vCPU × 0.0282 USD (1A2B-0000-G2CO); 384 GB RAM × 0.0033 USD (1A2B-0000-G2RA); "
                        "8 GPU × 0.644 USD (1A2B-0000-L4GP)")
    data = json.loads(invoke(standin, "plan", "--preset", "llama-3.1-8b-instruct", "--live-prices", "--json").output)
    assert data["usd_per_hour"] == pytest.approx(1.1408) and data["price_region"] == REGION
    assert [s["sku_id"] for s in data["price_skus"]] == ["1A2B-0000-G2CO", "1A2B-0000-G2RA", "1A2B-0000-L4GP"]
    assert data["price_source"].startswith("Cloud Billing Catalog API, services/C7E2-9256-1C43, read ")


def test_plan_without_the_flag_stays_offline_and_suggests_it(standin):
    result = invoke(standin, "plan", "--preset", "llama-3.1-8b-instruct")
    assert result.exit_code == 0 and standin.requests == []
    assert "price: $1.15/h (estimate: " in result.output and "--live-prices reads Google's current price" in result.output


def test_plan_live_prices_api_disabled_one_line_exit_2(standin):
    standin.faults.add("cloudbilling.services.list", status=403, details=SERVICE_DISABLED, message=DISABLED_TEXT)
    result = invoke(standin, "plan", "--preset", "llama-3.1-8b-instruct", "--live-prices")
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "Error: the cloudbilling.googleapis.com API (Cloud Billing) is not enabled in project my-quota-project, the "
        "project your credentials bill API calls to, so live prices cannot be read. Enable it: gcloud services "
        "enable cloudbilling.googleapis.com --project=my-quota-project (it takes a minute), or drop --live-prices "
        "to use the built-in table."]


def test_plan_live_prices_no_matching_sku_one_line_exit_1(standin):
    standin.billing.set_skus(catalog_data.VERTEX_SERVICE, [s for s in records_json() if "Ram" not in s["description"]])
    result = invoke(standin, "plan", "--preset", "llama-3.1-8b-instruct", "--live-prices")
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = result.output.splitlines()
    assert line.startswith("Error: no live price for g2-standard-12 in us-central1 from the Cloud Billing Catalog")
    assert "no on-demand 'Vertex AI: Online/Batch Prediction' SKU for G2 ram" in line


def test_plan_live_prices_bad_region_is_bad_input_before_any_call(standin):
    result = invoke(standin, "plan", "--preset", "llama-3.1-8b-instruct", "--live-prices", "--region", "us-central9")
    assert result.exit_code == 2 and "--region 'us-central9' is not a Vertex AI region" in result.output
    assert standin.requests == []


def test_plan_live_prices_without_credentials_one_line_exit_2(tmp_path):
    from tests.fakes.oauth import no_google_env, run_cli

    done, _ = run_cli(["plan", "--preset", "llama-3.1-8b-instruct", "--live-prices"], no_google_env(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("Error: no Google credentials found") and "gcloud auth application-default login" in line
