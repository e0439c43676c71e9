"""A gate never blocks on an estimate the planner cannot vouch for: families, vLLM generations and
paths outside calibration get an ``unverified`` mark; preflight (and so ``submit``) warns on their
"does not fit" unless ``block_on_plan_risk``; calibrated paths and vLLM's own rules still block."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest

from vllm_vertex import planner, preflight
from vllm_vertex.config import from_preset
from vllm_vertex.planner import Verdict, plan
from vllm_vertex.planner.coverage import CALIBRATED, family_of
from vllm_vertex.planner.verdict import RULE_VERDICTS

DATA = Path(__file__).parent / "data" / "configs"
QWEN3_235B_FP8 = json.loads((DATA / "qwen3-235b-a22b-instruct-2507-fp8.json").read_text())
SCOUT = json.loads((DATA / "llama-4-scout-17b-16e-instruct.json").read_text())
H100 = "NVIDIA_H100_80GB"
# Llama 4 needs vLLM >= 0.8.3, so no V0 log calibrates it: (moe:llama4_text, v0) stays outside calibration.
V0_IMAGE = "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-serve:20241210_0916_RC00"


def _cfg(**kw):
    return from_preset("llama-3.1-8b-instruct", project="p", **kw)


def test_uncalibrated_family_that_does_not_fit_warns_and_proceeds():
    cfg = _cfg(model_id="meta-llama/Llama-4-Scout-17B-16E-Instruct", machine_type="a3-highgpu-1g",
               accelerator_type=H100, accelerator_count=1, max_model_len=8192, serving_image=V0_IMAGE)  # fmt: skip
    report = preflight.evaluate(cfg, SCOUT, "hub", has_chat_template=True)
    assert report.plan.verdict is Verdict.WEIGHTS_DO_NOT_FIT and not report.plan.fits
    assert report.plan.unverified and not report.plan.blocking
    assert "moe:llama4_text on vLLM profile v0" in report.plan.unverified_reasons[0]
    assert "only warn on it" in report.plan.message
    assert report.ok, report.findings  # nothing blocks the deploy ...
    assert any(n.startswith("capacity unverified (warning") for n in report.notes)  # ... it warns
    blocked = preflight.evaluate(replace(cfg, block_on_plan_risk=True), SCOUT, "hub", has_chat_template=True)
    assert [f.key for f in blocked.findings] == ["weights_do_not_fit"]


def test_a_family_calibrated_on_the_image_vllm_blocks():
    """Qwen3-MoE on vLLM 0.8 - 0.16 has a start-up log (vLLM #21348): the issue's 235B on 2 GPUs now blocks."""
    cfg = _cfg(model_id="Qwen/Qwen3-235B-A22B-Instruct-2507-FP8", machine_type="a3-highgpu-2g",
               accelerator_type=H100, accelerator_count=2, max_model_len=8192)  # fmt: skip
    report = preflight.evaluate(cfg, QWEN3_235B_FP8, "hub", has_chat_template=True)
    assert report.plan.vllm_profile == "v1-early" and not report.plan.unverified and report.plan.blocking
    assert [f.key for f in report.findings] == ["weights_do_not_fit"]


def test_calibrated_family_that_does_not_fit_still_blocks():
    report = preflight.evaluate(_cfg(max_model_len=131072), planner.load_model_config("llama-3.1-8b"), "offline")
    assert report.plan.family == "dense" and not report.plan.unverified and report.plan.blocking
    assert [f.key for f in report.findings] == ["kv_cache_too_small"]


def test_vllm_rules_block_even_when_unverified():
    result = plan(SCOUT, gpu_memory_gib=79.19, accelerator_count=3, max_model_len=8192, vllm_version="0.19.0")
    assert result.verdict is Verdict.TP_DOES_NOT_DIVIDE_HEADS and result.unverified and result.blocking


def test_unverified_mark_in_result_json_and_message():
    result = plan(SCOUT, accelerator_type=H100, accelerator_count=8, max_model_len=8192, vllm_version="0.7.3")
    data = result.to_dict()
    assert data["unverified"] is True and data["unverified_reasons"] == list(result.unverified_reasons)
    assert data["family"] == "moe:llama4_text" and data["vllm_profile"] == "v0"
    assert "Unverified (outside the planner's calibration): model family moe:llama4_text" in result.message
    assert "only warn" not in result.message  # it fits: nothing to warn about
    calibrated = plan(planner.load_model_config("llama-3.1-8b"), accelerator_type="NVIDIA_L4", max_model_len=4096)
    assert calibrated.to_dict()["unverified"] is False and calibrated.to_dict()["unverified_reasons"] == []


@pytest.mark.parametrize(
    ("version", "count", "accelerator", "unverified"),
    [
        ("0.19.0", 1, H100, False),
        ("0.19.0", 2, H100, False),  # TP > 1 fitted on H100 for vLLM >= 0.17
        ("0.19.0", 2, "NVIDIA_L4", True),  # ... not on GPUs without NVLink SHARP
        ("0.11.0", 2, H100, False),  # 0.8 - 0.16 at TP > 1: 0.9.x TP 4 (vLLM #21348), 0.11 TP 2 (llm-d-benchmark)
        ("0.11.0", 2, "NVIDIA_L4", True),  # ... on H100 only
        ("0.11.0", 1, H100, False),
        ("0.6.4", 2, "NVIDIA_L4", False),
    ],
)
def test_tensor_parallel_outside_calibration_is_unverified(version, count, accelerator, unverified):
    result = plan(planner.load_model_config("llama-3.1-8b"), accelerator_type=accelerator, accelerator_count=count,
                  max_model_len=4096, vllm_version=version)  # fmt: skip
    assert result.unverified is unverified, result.unverified_reasons


def test_families_of_the_new_paths():
    names = {
        "qwen3-235b-a22b-instruct-2507-fp8.json": "moe:qwen3_moe",
        "qwen1.5-moe-a2.7b.json": "moe:qwen2_moe",
        "deepseek-v2-lite-chat.json": "mla:deepseek_v2",
        "openai-gpt-oss-20b.json": "moe:gpt_oss",
        "gemma-3-27b-it.json": "vision:siglip",
        "mistral-small-3.1-24b-instruct-2503.json": "vision:pixtral",
        "llama-4-scout-17b-16e-instruct.json": "moe:llama4_text",
        "gemma-2-9b.json": "sliding_window:gemma2",
    }
    for name, family in names.items():
        spec = planner.parse_model_config(json.loads((DATA / name).read_text()))
        assert family_of(spec) == family, name
    # Two sources since the fifth round (llm-d-planner on 0.19, vLLM #19407 on 0.9; docs/planner.md):
    assert {("moe:llama4_text", "v1"), ("moe:llama4_text", "v1-early")} <= CALIBRATED
    assert ("moe:llama4_text", "v0") not in CALIBRATED


IMAGES = {  # serving image -> the vLLM generation it carries (recipes.IMAGE_ENGINES, upstream tags)
    "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-serve:20241210_0916_RC00": "v0",
    "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-serve:20250717_0916_arm_RC01": "0.9",
    "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-serve:20251205_0916_RC01": "0.8-0.16",
    "vllm/vllm-openai:v0.19.0": "0.19",
}
MACHINES = [("g2-standard-12", "NVIDIA_L4", 1), ("g2-standard-96", "NVIDIA_L4", 8), ("a2-ultragpu-2g", "NVIDIA_A100_80GB", 2),
            ("a3-highgpu-1g", H100, 1), ("a3-highgpu-2g", H100, 2), ("a3-highgpu-8g", H100, 8)]  # fmt: skip


def test_no_blocking_verdict_comes_from_an_unverified_path():
    """Every test config (each family), on every vLLM generation an image carries, on 1-8 GPUs of three
    kinds, at a short and a long max_model_len: preflight refuses a deploy only on vLLM's own rules or
    on a calibrated estimate; an unverified "does not fit" is a note, and refuses only with
    block_on_plan_risk. The sweep must meet both kinds of "does not fit" (the check is not vacuous)."""
    seen = set()
    grid = itertools.product(sorted(DATA.glob("*.json")), IMAGES, MACHINES, (4096, 32768))
    for path, image, (machine, accelerator, count), max_len in grid:
        name, config = path.name, json.loads(path.read_text())
        cfg = replace(_cfg(model_id=f"test/{name}", machine_type=machine, accelerator_type=accelerator,
                           accelerator_count=count, max_model_len=max_len), serving_image=image)  # fmt: skip
        report = preflight.evaluate(cfg, config, "hub", has_chat_template=True)
        result = report.plan
        if result is None or result.fits:
            continue
        seen.add((result.unverified, result.verdict in RULE_VERDICTS))
        refused = [f.key for f in report.findings]
        if result.unverified and result.verdict not in RULE_VERDICTS:
            assert not result.blocking and refused == [], (image, machine, max_len, result.unverified_reasons)
            assert any(n.startswith("capacity unverified (warning") for n in report.notes)
            strict = preflight.evaluate(replace(cfg, block_on_plan_risk=True), config, "hub", has_chat_template=True)
            assert [f.key for f in strict.findings] == [result.verdict.value]
        else:
            assert result.blocking and refused == [result.verdict.value], (image, machine, max_len)
            assert result.verdict in RULE_VERDICTS or (result.family, result.vllm_profile) in CALIBRATED
    assert {(True, False), (False, False), (True, True)} <= seen, seen


def test_v0_chunked_prefill_is_unverified():
    """vLLM V0 profiles a chunked-prefill batch above 32K context: no log calibrates its peak (docs/planner.md)."""
    llama = planner.load_model_config("llama-3.1-8b")
    chunked = plan(llama, accelerator_type=H100, max_model_len=65536, vllm_version="0.6.4")
    assert chunked.unverified and any("chunked prefill (512 batched" in r for r in chunked.unverified_reasons)
    assert not plan(llama, accelerator_type=H100, max_model_len=32768, vllm_version="0.6.4").unverified
    v1 = plan(llama, accelerator_type=H100, max_model_len=65536, vllm_version="0.11.0")
    assert not v1.unverified  # V1: its chunked-prefill budget is calibrated
