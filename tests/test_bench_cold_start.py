"""The pure parts of ``scripts/bench_cold_start.py``: its command line, the medians and the table (not the vLLM run)."""

from __future__ import annotations

import pytest

from scripts.bench_cold_start import MODES, Round, parse_args, render_table, summarize


def test_defaults_are_two_rounds_of_the_tiny_llama_without_a_synthetic_model() -> None:
    args = parse_args([])
    assert (args.rounds, args.model, args.synthetic_gb, args.json) == (2, "tiny-llama", 0.0, False)


@pytest.mark.parametrize(("argv", "says"), [
    (["--rounds", "0"], "--rounds must be at least 1, got 0"),
    (["--synthetic-gb", "-1"], "--synthetic-gb must be between 0 and 8"),
    (["--synthetic-gb", "20"], "got 20.0"),
    (["--timeout", "0"], "--timeout must be positive"),
    (["--rounds", "two"], "invalid int value: 'two'"),
])
def test_bad_values_exit_with_what_was_wrong(argv: list[str], says: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2
    assert says in capsys.readouterr().err


def test_summarize_takes_medians_per_model_and_mode_in_the_order_run() -> None:
    local, hub = MODES
    rounds = [
        Round("tiny", local, 0.5, 30.0, 1_700_000), Round("tiny", hub, None, 40.0, 1_700_000),
        Round("tiny", local, 0.25, 20.0, 1_700_000), Round("tiny", hub, None, 36.0, 1_700_000),
        Round("tiny", local, 0.75, 25.0, 1_700_000),
        Round("big", hub, None, 90.0, 1_500_000_000),
    ]
    rows = summarize(rounds)
    assert [(r["model"], r["mode"], r["rounds"]) for r in rows] == [("tiny", local, 3), ("tiny", hub, 2), ("big", hub, 1)]
    assert (rows[0]["copy_s"], rows[0]["start_s"], rows[0]["total_s"]) == (0.5, 25.0, 25.75)
    assert rows[0]["start_range_s"] == (20.0, 30.0)
    assert (rows[1]["copy_s"], rows[1]["start_s"], rows[1]["total_s"]) == (None, 38.0, 38.0)


def test_the_table_has_one_line_per_row_with_sizes_ranges_and_no_copy_for_downloads() -> None:
    local, hub = MODES
    rows = summarize([Round("tiny", local, 0.5, 30.0, 1_700_000), Round("tiny", local, 0.5, 20.0, 1_700_000),
                      Round("big", hub, None, 90.0, 1_500_000_000)])
    lines = render_table(rows).splitlines()
    assert len(lines) == 4 and lines[1].startswith("|---")
    assert lines[2] == "| tiny | 1.7 MB | local copy | 2 | 0.5 s | 25.0 s (20.0–30.0) | 25.5 s |"
    assert lines[3] == "| big | 1.50 GB | fresh download | 1 | – | 90.0 s | 90.0 s |"
