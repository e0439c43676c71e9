"""``extra_vllm_args`` read the way vLLM's FlexibleArgumentParser reads them: no field can be bypassed."""

import pytest

from vllm_vertex import preflight, vllm_flags
from vllm_vertex.config import ConfigError, from_preset, validate


def _problem(*args: str, **fields) -> str:
    with pytest.raises(ConfigError) as info:
        validate(from_preset("llama-3.1-8b-instruct", project="my-project", extra_vllm_args=list(args), **fields))
    return dict(info.value.problems)["extra_vllm_args"]


@pytest.mark.parametrize(
    ("arg", "flag"),
    [
        ("--max-model-len=8192", "--max-model-len"),
        ("--max_model_len=8192", "--max-model-len"),
        ("--max-model-len 8192", "--max-model-len"),
        ("--max_model_len\t8192", "--max-model-len"),
        ("--compilation_config.level=3", "--compilation-config"),
        ("-tp=2", "--tensor-parallel-size"),
        ("--enforce-eager", "--enforce-eager"),
    ],
)
def test_flag_name_is_what_vllm_parses(arg, flag):
    assert vllm_flags.flag_name(arg) == flag


@pytest.mark.parametrize(
    ("arg", "text"),
    [
        ("--max_model_len=8192", "vLLM reads '--max_model_len' as --max-model-len"),
        ("--max-model-len 8192", "already set from fields: max_model_len = 4096"),
        ("--max-model=8192", "vLLM reads '--max-model' as --max-model-len"),
        ("--tensor_parallel_size=2", "accelerator_count = 1 controls it"),
        ("--trust-remote-code", "trust_remote_code = False controls it"),
        ("--trust_remote_code", "trust_remote_code = False"),
        ("--no-enforce-eager", "enforce_eager = True"),
        ("--no_enable_prefix_caching", "enable_prefix_caching = False"),
        ("--enable-prefix", "--enable-prefix-caching"),
        ("--gpu_memory_utilization=0.95", "gpu_memory_utilization = 0.9"),
        ("--swap_space=4", "swap_space_gib = 16"),
        ("--model=other/model", "model_id = "),
        ("--chat_template=/t.jinja", "chat_template = ''"),
        ("--port=9000", "fixed by the serving container"),
        ("-tp=2", "write the long form, --tensor-parallel-size=VALUE"),
        ("--pipeline_parallel_size=2", "would need more GPUs"),
        ("--data-parallel-size 2", "would need more GPUs"),
        ("--config=/etc/vllm.yaml", "the checks cannot see"),
        ("--seed 1", "write --seed=1"),
    ],
)
def test_a_field_cannot_be_bypassed(arg, text):
    assert text in _problem(arg)


@pytest.mark.parametrize("arg", ["--seed=1", "--kv_cache_dtype=fp8", "--pipeline-parallel-size=1", "--max-num-batched-tokens=8192"])
def test_flags_no_field_controls_pass(arg):
    assert validate(from_preset("llama-3.1-8b-instruct", project="my-project", extra_vllm_args=[arg]))


def test_switch_matching_its_field_is_still_refused_once_and_named():
    message = _problem("--enforce_eager", enforce_eager=True)
    assert "enforce_eager = True" in message and "Set the field instead" in message


def test_preflight_reads_values_however_spelled():
    cfg = from_preset("llama-3.1-8b-instruct", project="my-project",
                      extra_vllm_args=["--kv_cache_dtype=fp8", "--max-num-batched-tokens=1024"])
    request = preflight._request(cfg, None)
    assert request.kv_cache_dtype == "fp8" and request.max_num_batched_tokens == 1024


def test_config_checks_extra_args_without_importing_container():
    """``config`` reads flags from ``vllm_flags``, below it: no ``config`` ↔ ``container`` import cycle."""
    import subprocess
    import sys

    code = (
        "import sys; from vllm_vertex.config import ConfigError, from_preset, validate\n"
        "try: validate(from_preset('llama-3.1-8b-instruct', project='p', extra_vllm_args=['--max_model_len=1']))\n"
        "except ConfigError as err: print('refused' if 'max-model-len' in str(err) else err)\n"
        "print(sorted(m for m in sys.modules if m.startswith('vllm_vertex.container')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["refused", "[]"]
