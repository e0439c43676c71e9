"""The CLI surface: subcommands and help, compile, plan, exit codes, and a start that imports nothing heavy."""

import json
import subprocess
import sys

import pytest
import yaml

from tests.cli_support import ROOT, invoke
from vllm_vertex.cli import main

SUBCOMMANDS = ["compile", "doctor", "endpoints", "follow", "logs", "plan", "presets", "probe", "runs", "schedule", "smoke",
               "status", "submit", "teardown", "weights"]


def test_help_lists_every_subcommand_and_each_has_help():
    result = invoke(None, "--help")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == SUBCOMMANDS
    for name in [
        *SUBCOMMANDS,
        "schedule create",
        "schedule list",
        "schedule pause",
        "schedule resume",
        "schedule delete",
        "weights list",
        "weights prune",
    ]:
        sub = invoke(None, *name.split(), "--help")
        assert sub.exit_code == 0 and "Usage: main " + name in sub.output
    # the stand-in override is the environment's (cloud.context), never an option, hidden or not
    assert not {"api_endpoint", "hf_endpoint"} & {p.name for p in main.commands["submit"].params}


def test_start_imports_no_heavy_client():
    code = (
        "import sys; from vllm_vertex.cli import main; "
        "heavy = [m for m in ('google.cloud.aiplatform', 'kfp', 'openai', 'google.api_core') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_compile_writes_every_pipeline(tmp_path):
    result = invoke(None, "compile", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "compiled 3 pipelines" in result.output
    names = {p.name: yaml.safe_load(p.read_text())["pipelineInfo"]["name"] for p in tmp_path.glob("*.yaml")}
    assert names == {
        "vllm-deploy-text.yaml": "vllm-deploy-and-verify",
        "vllm-deploy-multimodal.yaml": "vllm-deploy-and-verify",
        "vllm-canary.yaml": "vllm-canary",
    }


def test_compile_script_and_command_write_the_same_files(tmp_path):
    import compile as compile_script

    assert compile_script.main(["--out", str(tmp_path / "script")]) == 0
    assert invoke(None, "compile", "--out", str(tmp_path / "cli")).exit_code == 0
    for path in (tmp_path / "script").iterdir():
        assert path.read_bytes() == (tmp_path / "cli" / path.name).read_bytes()


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--preset", "llama-3.1-8b-instruct"], 0, "verdict: ok (fits)"),
        (["--preset", "llama-3.2-11b-vision-instruct", "--max-num-seqs", "256"], 1, "does NOT fit"),
        (["--preset", "llama-3.1-8b-instruct", "--max-model-len", "131072"], 1, "kv_cache_too_small"),
        (["--preset", "llama-3.1-8b-instrct"], 2, "llama-3.1-8b-instruct"),
        ([], 2, "exactly one of --preset"),
        (["--preset", "llama-3.1-8b", "--gpu-memory-utilization", "1.5"], 2, "gpu-memory-utilization"),
        (["--model-config", "no/such-model", "--accelerator-type", "NVIDIA_L4"],
         2, "no/such-model is not shipped offline and its config.json could not be read from the Hugging Face Hub"),
        (["--model-config", "meta-llama/Meta-Llama-3.1-8B-Instruct"], 2, "--model-config needs the hardware"),
        (["--preset", "llama-3.1-8b", "--machine-type", "g2-standrd-12"], 2, "Did you mean 'g2-standard-12'?"),
    ],
)
def test_plan_exit_codes(args, code, text, google_at):
    google_at(hf="http://127.0.0.1:9")  # a Hub that does not answer
    result = invoke(None, "plan", *args)
    assert result.exit_code == code, result.output
    assert text in result.output
    assert "Traceback" not in result.output
    if code == 2:
        assert len([line for line in result.output.splitlines() if line.startswith("Error:")]) == 1


def test_plan_text_names_the_hardware_and_price_it_assumed():
    result = invoke(None, "plan", "--preset", "llama-3.1-70b-instruct")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "hardware: g2-standard-96 with 8x NVIDIA_L4 (22.03 GiB each)"
    assert lines[1].startswith("price: $9.20/h (estimate: Compute Engine × 1.15, https://github.com/Cyclenerd/")
    assert " for 1 replica(s) of g2-standard-96, us-central1; --live-prices reads" in lines[1]
    given = invoke(None, "plan", "--model-config", "meta-llama/Meta-Llama-3.1-8B-Instruct", "--accelerator-type",
                   "NVIDIA_L4", "--max-model-len", "4096")  # fmt: skip
    assert "hardware: g2-standard-4 with 1x NVIDIA_L4" in given.output and "smallest that carries them" in given.output
    machine = invoke(None, "plan", "--model-config", "meta-llama/Meta-Llama-3.1-8B-Instruct", "--machine-type",
                     "g2-standard-96", "--max-model-len", "4096")  # fmt: skip
    assert machine.exit_code == 0 and "hardware: g2-standard-96 with 8x NVIDIA_L4" in machine.output


def test_plan_price_comes_from_the_table(monkeypatch):
    from vllm_vertex import pricing

    row = pricing.HourlyPrice("g2-standard-12", "NVIDIA_L4", 1, 1.5, "https://example.test/p", "2026-11-27")
    monkeypatch.setitem(pricing.PRICES, "g2-standard-12", row)
    result = invoke(None, "plan", "--preset", "llama-3.1-8b-instruct")
    assert "price: $1.50/h (table, https://example.test/p) for 1 replica(s) of g2-standard-12" in result.output
    data = json.loads(invoke(None, "plan", "--preset", "llama-3.1-8b-instruct", "--json").output)
    assert data["usd_per_hour"] == 1.5 and data["machine_type"] == "g2-standard-12"


def test_plan_never_prints_a_negative_kv_cache():
    result = invoke(None, "plan", "--preset", "llama-3.2-11b-vision-instruct", "--accelerator-type", "NVIDIA_L4")
    assert result.exit_code == 1
    assert "KV cache: none (short by 3.88 GiB)" in result.output
    assert not [line for line in result.output.splitlines() if ": -" in line]


def test_plan_reads_config_json_of_an_unshipped_hub_id_from_the_hub(google_at):
    from tests.fakes.hf_hub import FakeHub
    from vllm_vertex import planner

    config = planner.shipped_config("meta-llama/Meta-Llama-3.1-8B-Instruct")
    with FakeHub() as hub:
        hub.add("acme/llama-copy", {"config.json": config})
        google_at(hf=hub.url)
        result = invoke(None, "plan", "--model-config", "acme/llama-copy", "--machine-type", "g2-standard-12",
                        "--max-model-len", "4096")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "read config.json of acme/llama-copy from the Hugging Face Hub" in result.output
    assert "verdict: ok (fits)" in result.output


def test_plan_json():
    result = invoke(None, "plan", "--model-config", "meta-llama/Meta-Llama-3.1-8B-Instruct",
                    "--accelerator-type", "NVIDIA_L4", "--max-model-len", "8192", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["fits"] is True and data["max_model_len"] == 8192 and data["accelerator_type"] == "NVIDIA_L4"


def test_version():
    from importlib.metadata import version

    result = invoke(None, "--version")
    assert result.exit_code == 0 and result.output.strip() == f"vllm-vertex {version('vllm-vertex')}"
