"""Planner vs published vLLM start-up figures (tests/data/calibration.csv).

Every row not marked excluded must predict the KV cache within 15 % and the weights within 10 %.
Run with ``-s`` to print the table (Markdown, for docs/planner.md).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from vllm_vertex import planner

DATA = Path(__file__).parent / "data"
KV_TOLERANCE = 0.15
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
        accelerator_count=int(row["count"]),
        gpu_memory_utilization=float(row["gmu"]),
        max_model_len=int(row["max_model_len"]),
        max_num_seqs=int(row["max_num_seqs"]),
        enforce_eager=row["enforce_eager"] == "true",
        dtype=row["dtype"],
        total_size=None if local else planner.checkpoint_total_size(name),
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


def _table() -> list[tuple[dict[str, str], planner.PlanResult, int | None]]:
    out = []
    for row in _rows():
        result = _predict(row)
        out.append((row, result, _measured_kv_tokens(row, result)))
    return out


def test_calibration_table_has_enough_distinct_points():
    rows = _rows()
    assert len(rows) >= 6
    assert len({r["gpu"] for r in rows}) >= 3 and len({r["model_config"] for r in rows}) >= 5
    assert all(r["source"].startswith("https://") for r in rows)


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["id"])
def test_prediction_within_tolerance(row):
    if row["excluded_reason"]:
        pytest.skip(f"excluded: {row['excluded_reason']}")
    result = _predict(row)
    measured_kv = _measured_kv_tokens(row, result)
    if measured_kv is not None:
        assert abs(_error(result.kv_cache_tokens, measured_kv)) <= KV_TOLERANCE, (result.kv_cache_tokens, measured_kv)
    if row["measured_weights_gib"]:
        measured_w = float(row["measured_weights_gib"])
        assert abs(_error(result.weights_gib_per_gpu, measured_w)) <= WEIGHTS_TOLERANCE


def test_print_calibration_table(capsys):
    lines = [
        "| row | GPU x n | max_model_len | KV tokens predicted | KV tokens measured | KV error | "
        "weights GiB predicted | weights GiB measured | weights error | source |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row, result, measured_kv in _table():
        kv_err = f"{_error(result.kv_cache_tokens, measured_kv):+.1%}" if measured_kv else "-"
        w = row["measured_weights_gib"]
        w_err = f"{_error(result.weights_gib_per_gpu, float(w)):+.1%}" if w else "-"
        flag = " (excluded)" if row["excluded_reason"] else ""
        lines.append(
            f"| {row['id']}{flag} | {row['gpu']} x {row['count']} | {row['max_model_len']} | {result.kv_cache_tokens:,} "
            f"| {f'{measured_kv:,}' if measured_kv else '-'} | {kv_err} | {result.weights_gib_per_gpu:.2f} "
            f"| {w or '-'} | {w_err} | {row['source'].split(' ')[0]} |"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len(lines) == len(_rows()) + 2
