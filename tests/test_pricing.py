"""The price table: every preset's hardware has a row, costs are deployed time × hourly price, unknowns say so."""

import pathlib

import pytest

from vllm_vertex import hardware, pricing, recipes

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_every_preset_machine_has_a_row_that_matches_its_hardware():
    for preset in recipes.PRESETS.values():
        row = pricing.PRICES[preset.machine_type]
        assert (row.accelerator_type, row.accelerator_count) == (preset.accelerator_type, preset.accelerator_count)
        machine = hardware.MACHINE_TYPES[row.machine_type]
        assert machine.accelerator_type == row.accelerator_type and row.accelerator_count in machine.accelerator_counts


def test_rows_with_a_figure_name_their_kind_source_and_date():
    kinds = {pricing.SKU_KIND, pricing.ESTIMATE_KIND}
    for row in pricing.PRICES.values():
        assert row.source.startswith("https://")
        if row.usd_per_hour is not None:
            assert row.usd_per_hour > 0 and len(row.as_of) in (7, 10) and row.kind in kinds, row
        else:
            assert row.kind == ""


def test_figures_are_those_of_the_facts():
    """The SKU rows add up the three 2025-08 SKUs; the estimates are Compute Engine × 1.15 (FACTS, prediction prices)."""
    assert pricing.PRICES["a3-highgpu-1g"].usd_per_hour == pytest.approx(12.626, abs=0.001)
    assert pricing.PRICES["a3-highgpu-8g"].usd_per_hour == pytest.approx(101.01, abs=0.01)
    expected = {"g2-standard-8": 0.982, "g2-standard-12": 1.151, "g2-standard-24": 2.301, "g2-standard-48": 4.602,
                "g2-standard-96": 9.204, "a2-highgpu-1g": 4.224, "a2-highgpu-2g": 8.449, "a2-highgpu-4g": 16.898,
                "a2-highgpu-8g": 33.795, "a3-ultragpu-8g": 99.8}
    for machine, usd in expected.items():
        row = pricing.PRICES[machine]
        assert row.usd_per_hour == pytest.approx(usd, abs=0.03), machine
        assert row.kind == "estimate: Compute Engine × 1.15"
    assert {pricing.PRICES[m].kind for m in ("a3-highgpu-1g", "a3-highgpu-8g")} == {"prediction SKU, 2025-08"}


def test_every_machine_vertex_serves_with_a_gpu_has_a_row_but_n1():
    for name, machine in hardware.MACHINE_TYPES.items():
        if name.startswith("n1-"):
            assert name not in pricing.PRICES  # a T4 count per machine: no one figure per machine type
            continue
        row = pricing.PRICES[name]
        assert row.accelerator_type == machine.accelerator_type and row.accelerator_count in machine.accelerator_counts


def test_every_preset_prints_a_price_with_its_kind_and_source():
    for name, preset in recipes.PRESETS.items():
        text = pricing.rate_for(preset.machine_type).text()
        row = pricing.PRICES[preset.machine_type]
        assert text.startswith(f"${row.usd_per_hour:,.2f}/h ({row.kind}, {row.source})"), (name, text)


def test_every_row_without_a_figure_is_explained_in_the_status_of_the_figures():
    status = pricing.__doc__.split("Status of the figures", 1)[1]
    unknown = [row.machine_type for row in pricing.PRICES.values() if row.usd_per_hour is None]
    for machine in unknown:
        assert machine in status, f"{machine} holds no figure but the module docstring does not say why"


def test_cost_is_deployed_time_times_the_hourly_price_of_every_replica(monkeypatch):
    monkeypatch.setitem(pricing.PRICES, "g2-standard-12",
                        pricing.HourlyPrice("g2-standard-12", "NVIDIA_L4", 1, 1.2, "https://x.test", "2026-11-27"))  # fmt: skip
    rate = pricing.rate_for("g2-standard-12", replicas=2)
    assert rate.usd_per_hour == pytest.approx(2.4)
    assert pricing.estimated_cost(rate, 1800) == pytest.approx(1.2)
    assert pricing.describe(rate, 1800) == "deployed 30.0 min × $2.40/h (table, https://x.test) ≈ $1.20 (estimated GPU cost)"
    assert pricing.rate_for("g2-standard-12", spot=True).usd_per_hour is None  # spot: a discount the table lacks


def test_unknown_price_says_so_and_where_to_look():
    rate = pricing.rate_for("n1-standard-4")
    assert rate.usd_per_hour is None and pricing.estimated_cost(rate, 60) is None
    assert "unknown" in rate.text() and pricing.PRICING_URL in rate.text()
    assert pricing.describe(rate, 90).startswith("deployed 1.5 min; estimated GPU cost unknown")


def test_readme_presets_table_has_the_price_column_of_the_table():
    readme = (ROOT / "README.md").read_text()
    rows = [line for line in readme.split("## Presets", 1)[1].split("\n\n")[2].splitlines() if line.startswith("| `")]
    assert rows
    listed = {cell for line in rows for cell in [line.split("|")[1].strip().strip("`")]}
    for name in recipes.PRESETS:  # every preset has a row (a base/Instruct pair shares one, `name[-instruct]`)
        assert name in listed or name.removesuffix("-instruct") + "[-instruct]" in listed, name
    for line in rows:
        machine = line.split("|")[3].strip()
        row = pricing.PRICES[machine]
        assert line.rstrip(" |").endswith(f"{row.usd_per_hour:.2f} ({'SKU' if row.kind == pricing.SKU_KIND else 'estimate'})"), line
