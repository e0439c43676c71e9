"""``submit`` / ``schedule create`` run the offline capacity plan first: a run that cannot fit is refused
before credentials, compiling or any cloud call (exit 2, preflight's message); ``--no-plan`` skips it;
"at risk" only warns."""

from __future__ import annotations

import pytest
import yaml

from tests.cli_support import MULTIMODAL, TEXT, invoke
from tests.fakes.oauth import no_google_env, run_cli
from tests.standin.pipeline_jobs import pipelines
from vllm_vertex import planner

pytestmark = pytest.mark.timeout(120)


def _run_file(tmp_path, source: str, **edit) -> str:
    data = {**yaml.safe_load(open(source)), **edit}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_vision_with_256_seqs_is_refused_before_credentials_and_compiling(tmp_path):
    """The issue's case: 11B Vision with max_num_seqs 256 used to be submitted and fail on Vertex."""
    run = _run_file(tmp_path, MULTIMODAL, max_num_seqs=256)
    env = no_google_env(tmp_path)  # no credentials at all: the plan must answer first
    for args in (["submit", run], ["schedule", "create", run]):
        done, seconds = run_cli(args, env)
        print(f"{args[0]}: refused in {seconds:.2f} s (process start included)")
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
        assert "preflight predicts the deploy would fail" in done.stderr
        assert "[multimodal_profile_risk]" in done.stderr and "max_num_seqs to" in done.stderr
        assert "--no-plan" in done.stderr and "gcloud auth" not in done.stderr
    # --no-plan skips it: the next check in the order (credentials) answers instead
    done, _ = run_cli(["submit", run, "--no-plan"], env)
    assert done.returncode == 2 and "no Google credentials found" in done.stderr
    assert "multimodal_profile_risk" not in done.stderr


def test_refusal_sends_nothing(standin, tmp_path):
    run = _run_file(tmp_path, MULTIMODAL, max_num_seqs=256)
    for args in (["submit", run], ["schedule", "create", run]):
        refused = invoke(standin, *args)
        assert refused.exit_code == 2 and "multimodal_profile_risk" in refused.output
    assert standin.requests == []


def test_kv_cache_too_small_is_refused_with_the_largest_length_that_fits(standin, tmp_path):
    run = _run_file(tmp_path, TEXT, max_model_len=131072)
    result = invoke(standin, "submit", run)
    assert result.exit_code == 2 and "[kv_cache_too_small]" in result.output
    assert "Fix: set max_model_len to" in result.output and standin.requests == []


def test_at_risk_only_warns_unless_the_run_file_blocks_it(standin, tmp_path):
    cfg = planner.plan_preset("llama-3.1-8b-instruct")
    edge = cfg.kv_cache_tokens - 16  # inside the predicted cache, above the band's low end
    run = _run_file(tmp_path, TEXT, max_model_len=edge)
    result = invoke(standin, "submit", run)
    assert result.exit_code == 0, result.output
    assert "warning: At risk" in result.output and len(pipelines(standin).created) == 1
    blocked = _run_file(tmp_path, TEXT, max_model_len=edge, block_on_plan_risk=True)
    result = invoke(standin, "submit", blocked)
    assert result.exit_code == 2 and "[at_risk]" in result.output
    assert len(pipelines(standin).created) == 1


def test_unverified_does_not_fit_only_warns_and_submits(standin, tmp_path):
    """70B on 8 x L4 with the default image: TP 8 on vLLM 0.8-0.16 has no calibration point, so the
    planner's "does not fit" is a warning and the run is submitted (block_on_plan_risk makes it refuse)."""
    run = _run_file(tmp_path, TEXT, preset="llama-3.1-70b-instruct", max_model_len=131072)
    result = invoke(standin, "submit", run)
    assert result.exit_code == 0, result.output
    assert "warning: The model's max seq len (131072)" in result.output and "only warn on it" in result.output
    assert len(pipelines(standin).created) == 1
    blocked = _run_file(tmp_path, TEXT, preset="llama-3.1-70b-instruct", max_model_len=131072, block_on_plan_risk=True)
    result = invoke(standin, "submit", blocked)
    assert result.exit_code == 2 and "[kv_cache_too_small]" in result.output
    assert len(pipelines(standin).created) == 1
