"""``plan RUN_FILE`` and the plan/price lines of ``submit --dry-run`` / ``schedule create --dry-run`` (offline)."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from tests.cli_support import MULTIMODAL, TEXT
from vllm_vertex import pricing
from vllm_vertex.cli import main


def _cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _edited(tmp_path, source: str, **edit) -> str:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(open(source)), **edit}))
    return str(path)


def test_plan_a_run_file_prints_hardware_price_and_verdict():
    result = _cli("plan", TEXT)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "hardware: g2-standard-12 with 1x NVIDIA_L4 (22.03 GiB each)"
    assert lines[1].startswith(f"price: {pricing.rate_for('g2-standard-12').text()}")
    assert lines[2] == "verdict: ok (fits)" and "  KV cache tokens: 27,728" in lines
    assert "Got unexpected extra argument" not in result.output


def test_plan_a_run_file_prices_every_replica_and_prints_json(tmp_path):
    run = _edited(tmp_path, TEXT, min_replica_count=2, max_replica_count=2)
    data = json.loads(_cli("plan", run, "--json").output)
    assert data["machine_type"] == "g2-standard-12" and data["verdict"] == "ok"
    assert data["usd_per_hour"] == 2 * pricing.PRICES["g2-standard-12"].usd_per_hour
    assert data["price"].startswith("$2.30/h (estimate: Compute Engine × 1.15, ") and "2 replica(s)" in data["price"]


def test_a_run_file_that_does_not_fit_exits_1_with_the_plan(tmp_path):
    run = _edited(tmp_path, MULTIMODAL, max_num_seqs=256)
    result = _cli("plan", run)
    assert result.exit_code == 1, result.output
    assert "verdict: multimodal_profile_risk (does NOT fit)" in result.output


def test_a_run_file_with_plan_flags_is_refused_in_one_line():
    result = _cli("plan", TEXT, "--preset", "llama-3.1-8b-instruct", "--max-model-len", "8192")
    assert result.exit_code == 2
    assert "a run file already says what to plan; drop --preset, --max-model-len" in result.output
    missing = _cli("plan", "no-such-run.yaml")
    assert missing.exit_code == 2 and "Traceback" not in missing.output


def test_submit_dry_run_shows_verdict_kv_tokens_and_price():
    result = _cli("submit", TEXT, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "  plan: ok (fits), KV cache tokens 27,728" in result.output
    assert f"  price: {pricing.rate_for('g2-standard-12').text()}" in result.output
    data = json.loads(_cli("submit", TEXT, "--dry-run", "--json").stdout)
    assert data["plan"]["verdict"] == "ok" and data["plan"]["kv_cache_tokens"] == 27728
    assert data["plan"]["usd_per_hour"] == pricing.PRICES["g2-standard-12"].usd_per_hour


def test_schedule_create_dry_run_shows_verdict_kv_tokens_and_price():
    result = _cli("schedule", "create", MULTIMODAL, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "  plan: ok (fits), KV cache tokens " in result.output
    assert "  price: $4.22/h (estimate: Compute Engine × 1.15, " in result.output


def test_machine_type_in_a_run_file_infers_its_gpu_like_plan_machine_type(tmp_path):
    run = _edited(tmp_path, TEXT, preset="llama-3.2-1b-instruct", machine_type="a2-highgpu-1g")
    result = _cli("plan", run)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "hardware: a2-highgpu-1g with 1x NVIDIA_TESLA_A100 (39.39 GiB each)"
    assert _cli("submit", run, "--dry-run").exit_code == 0
    clash = _edited(tmp_path, TEXT, machine_type="a2-highgpu-1g", accelerator_type="NVIDIA_L4")
    refused = _cli("plan", clash)
    assert refused.exit_code == 2 and "a2-highgpu-1g carries NVIDIA_TESLA_A100, not NVIDIA_L4" in refused.output


# Placements (issue 21) -----------------------------------------------------------------------------------

T4 = {"machine_type": "n1-standard-8", "accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 1}


def test_plan_shows_every_placement_planned_priced_and_what_it_needs(tmp_path):
    run = _edited(tmp_path, TEXT, placements=[{}, {"region": "us-east4", "spot": True}, T4])
    result = _cli("plan", run)
    assert result.exit_code == 0, result.output  # one placement can deploy
    lines = result.output.splitlines()
    start = lines.index("placements (tried in order; each attempt that finds no GPUs is cleaned up, then the next):")
    assert lines[start + 1] == "  1. [try] us-central1 g2-standard-12 1× NVIDIA_L4: plan ok, quota unread, $1.15/h"
    assert "needs 1 of CustomModelServingPreemptibleL4GPUsPerProjectPerRegion" in lines[start + 4]
    assert lines[start + 5].startswith("  3. [SKIP] us-central1 n1-standard-8 1× NVIDIA_TESLA_T4: plan weights_do_not_fit")
    assert lines[-1].startswith("       skipped: plan: Weights need 14.99 GiB per GPU")
    data = json.loads(_cli("plan", run, "--json").output)
    assert [r["region"] for r in data["ladder"]] == ["us-central1", "us-east4", "us-central1"]
    assert [r["usd_per_hour"] for r in data["ladder"]] == [pricing.rate_for("g2-standard-12").usd_per_hour, None, None]
    only_t4 = _edited(tmp_path, TEXT, placements=[T4])
    assert _cli("plan", only_t4).exit_code == 1  # no placement can deploy


def test_dry_run_shows_the_ladder_and_submit_refuses_a_placement_the_plan_refuses(tmp_path):
    run = _edited(tmp_path, TEXT, placements=[{}, {"machine_type": "a3-highgpu-1g", "region": "us-east4"}])
    result = _cli("submit", run, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "    2. [try] us-east4 a3-highgpu-1g 1× NVIDIA_H100_80GB: plan ok, quota unread, $12.63/h" in result.output
    data = json.loads(_cli("submit", run, "--dry-run", "--json").output)
    assert [r["where"] for r in data["plan"]["ladder"]] == ["us-central1 g2-standard-12 1× NVIDIA_L4",
                                                            "us-east4 a3-highgpu-1g 1× NVIDIA_H100_80GB"]
    refused = _cli("submit", _edited(tmp_path, TEXT, placements=[{}, T4]), "--dry-run")
    assert refused.exit_code == 2
    assert "- placements[1] (us-central1 n1-standard-8 1× NVIDIA_TESLA_T4): plan: Weights need" in refused.output
