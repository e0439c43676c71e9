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


def test_rows_with_a_figure_name_their_source_and_date():
    for row in pricing.PRICES.values():
        assert row.source.startswith("https://")
        if row.usd_per_hour is not None:
            assert row.usd_per_hour > 0 and len(row.as_of) == 10


def test_every_row_without_a_figure_is_explained_in_the_status_of_the_figures():
    status = pricing.__doc__.split("Status of the figures", 1)[1]
    unknown = [row.machine_type for row in pricing.PRICES.values() if row.usd_per_hour is None]
    for machine in unknown:
        assert machine in status, f"{machine} holds no figure but the module docstring does not say why"
    # The status's summary sentence must follow the table: filling a row means rewriting it.
    assert ("no row has a verified figure" in status) == (len(unknown) == len(pricing.PRICES))


def test_cost_is_deployed_time_times_the_hourly_price_of_every_replica(monkeypatch):
    monkeypatch.setitem(pricing.PRICES, "g2-standard-12",
                        pricing.HourlyPrice("g2-standard-12", "NVIDIA_L4", 1, 1.2, "https://x.test", "2026-11-27"))  # fmt: skip
    rate = pricing.rate_for("g2-standard-12", replicas=2)
    assert rate.usd_per_hour == pytest.approx(2.4)
    assert pricing.estimated_cost(rate, 1800) == pytest.approx(1.2)
    assert pricing.describe(rate, 1800) == "deployed 30.0 min × 2.40 USD/hour ≈ 1.20 USD (estimated GPU cost)"
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
    for line in rows:
        machine = line.split("|")[3].strip()
        price = pricing.PRICES[machine].usd_per_hour
        assert line.rstrip(" |").endswith(f"{price:.2f}" if price else "not verified"), line
