"""Planner vs published vLLM start-up figures (tests/data/calibration.csv).

Every row not marked excluded must predict the KV cache within 15 % in tokens, or, where the
cache is small, within 1.5 GiB of KV memory; and the weights within 10 %. ``make calibration``
prints the table (Markdown, for README.md and docs/planner.md).
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest

from vllm_vertex import planner
from vllm_vertex.planner.coverage import CALIBRATED

DATA = Path(__file__).parent / "data"
# The calibration table's GPU names -> accelerator types (V1's batching defaults and NVLS differ by GPU).
ACCELERATOR_TYPES = {
    "H100 80GB": "NVIDIA_H100_80GB",
    "A100 80GB": "NVIDIA_A100_80GB",
    "A100 40GB": "NVIDIA_TESLA_A100",
    "L4": "NVIDIA_L4",
}
KV_TOLERANCE = 0.15
KV_TOLERANCE_GIB = 1.5
WEIGHTS_TOLERANCE = 0.10


def _rows() -> list[dict[str, str]]:
    with open(DATA / "calibration.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _predict(row: dict[str, str]) -> planner.PlanResult:
    name = row["model_config"]
    local = name.startswith("configs/")
    config = planner.load_model_config(DATA / name if local else name)
    return planner.plan(
        config,
        gpu_memory_gib=float(row["gpu_memory_gib"]),
        accelerator_type=ACCELERATOR_TYPES.get(row["gpu"]),
        accelerator_count=int(row["count"]),
        gpu_memory_utilization=float(row["gmu"]),
        max_model_len=int(row["max_model_len"]),
        max_num_seqs=int(row["max_num_seqs"]),
        enforce_eager=row["enforce_eager"] == "true",
        dtype=row["dtype"],
        total_size=None if local else planner.checkpoint_total_size(name),
        vllm_version=row["vllm_version"].split(" ")[0],
        # Logged where the run set it or vLLM chose another default (older rows leave it out: the GPU's default).
        max_num_batched_tokens=int(row.get("max_num_batched_tokens") or 0) or None,
    )


def _measured_kv_tokens(row: dict[str, str], result: planner.PlanResult) -> int | None:
    """Measured KV tokens, from the logged tokens/blocks or from the logged KV GiB."""
    if row["measured_kv_tokens"]:
        return int(row["measured_kv_tokens"])
    if row["measured_kv_gib"]:
        return int(float(row["measured_kv_gib"]) * planner.GIB / result.kv_bytes_per_token_per_gpu)
    return None


def _error(predicted: float, measured: float) -> float:
    return (predicted - measured) / measured


def _kv_gib_error(result: planner.PlanResult, measured_tokens: int) -> float:
    return (result.kv_cache_tokens - measured_tokens) * result.kv_bytes_per_token_per_gpu / planner.GIB


def _within(result: planner.PlanResult, measured_tokens: int) -> bool:
    """15 % on tokens, or 1.5 GiB of KV memory (what matters where the cache is small)."""
    relative = abs(_error(result.kv_cache_tokens, measured_tokens)) <= KV_TOLERANCE
    return relative or abs(_kv_gib_error(result, measured_tokens)) <= KV_TOLERANCE_GIB


def test_calibration_table_covers_tp_versions_and_gpus():
    rows = [r for r in _rows() if not r["excluded_reason"]]
    assert len({r["gpu"] for r in rows}) >= 3 and len({r["model_config"] for r in rows}) >= 5
    with_kv = [r for r in rows if r["measured_kv_tokens"] or r["measured_kv_gib"]]
    assert {int(r["count"]) for r in with_kv} >= {1, 2, 4}
    assert {int(r["count"]) for r in rows} >= {1, 2, 4, 8}
    recent = [r for r in with_kv if planner.memory.engine_profile(r["vllm_version"].split(" ")[0]).v1]
    assert {int(r["count"]) for r in recent} >= {1, 2, 4}  # TP > 1 on recent vLLM
    for row in _rows():
        assert "https://" in row["source"] and row["quote"], row["id"]


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["id"])
def test_prediction_within_tolerance(row):
    if row["excluded_reason"]:
        pytest.skip(f"excluded: {row['excluded_reason']}")
    result = _predict(row)
    measured_kv = _measured_kv_tokens(row, result)
    if measured_kv is not None:
        assert _within(result, measured_kv), (result.kv_cache_tokens, measured_kv)
        if not result.unverified:  # the band is the error of calibrated paths; an unverified one never blocks
            assert result.kv_cache_tokens_low <= measured_kv <= result.kv_cache_tokens_high, "outside the error band"
    if row["measured_weights_gib"]:
        measured_w = float(row["measured_weights_gib"])
        assert abs(_error(result.weights_gib_per_gpu, measured_w)) <= WEIGHTS_TOLERANCE


def _measured_points() -> list[tuple[dict[str, str], planner.PlanResult, int]]:
    out = []
    for row in _rows():
        if row["excluded_reason"]:
            continue
        result = _predict(row)
        measured = _measured_kv_tokens(row, result)
        if measured is not None:
            out.append((row, result, measured))
    return out


def test_every_calibrated_family_and_vllm_generation_has_a_point():
    """The planner vouches (blocks) only for (family, vLLM profile) pairs that a start-up log checks."""
    points = {(result.family, result.vllm_profile) for _, result, _ in _measured_points()}
    assert CALIBRATED <= points, sorted(CALIBRATED - points)
    for _, result, _ in _measured_points():
        if (result.family, result.vllm_profile) in CALIBRATED and result.request.accelerator_count == 1:
            assert not result.unverified, result.unverified_reasons


def test_held_out_median_error_is_within_ten_percent():
    errors = [abs(_error(r.kv_cache_tokens, m)) for row, r, m in _measured_points() if "held-out" in row["notes"]]
    assert len(errors) >= 8
    assert statistics.median(errors) <= 0.10, errors


def calibration_table() -> list[str]:
    """The calibration table as Markdown lines: point, predicted, measured, error, source."""
    lines = [
        "| point | family | GPU x TP | vLLM | KV tokens predicted | KV tokens measured | KV error | KV GiB error "
        "| weights GiB predicted / measured | source |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in _rows():
        result = _predict(row)
        measured_kv = _measured_kv_tokens(row, result)
        kv_err = f"{_error(result.kv_cache_tokens, measured_kv):+.1%}" if measured_kv else "-"
        gib_err = f"{_kv_gib_error(result, measured_kv):+.2f}" if measured_kv else "-"
        w = row["measured_weights_gib"]
        flag = " (excluded)" if row["excluded_reason"] else ""
        flag += " (held-out)" if "held-out" in row["notes"] else ""
        source = next((w for w in row["source"].split(" ") if w.startswith("https://")), "")
        label = "/".join(source.split("/")[-2:])
        lines.append(
            f"| {row['id']}{flag} | {result.family} | {row['gpu']} x {row['count']} | {row['vllm_version'].split(' ')[0]} "
            f"| {result.kv_cache_tokens:,} | {f'{measured_kv:,}' if measured_kv else '-'} | {kv_err} | {gib_err} "
            f"| {result.weights_gib_per_gpu:.2f} / {w or '-'} | [{label}]({source}) |"
        )
    return lines


def test_print_calibration_table(capsys):
    lines = calibration_table()
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len(lines) == len(_rows()) + 2


if __name__ == "__main__":  # `make calibration`
    print("\n".join(calibration_table()))
