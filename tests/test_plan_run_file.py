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
