"""The vLLM serving container spec that the upload step gives Vertex AI.

Pure: builds the args, env, ports and routes of Google's vLLM container from a
``DeploymentConfig``. The HF token, when there is one, is passed in at run time by the
upload step and only ever lands in the Model's container env.
"""

from __future__ import annotations

import re

from vllm_vertex.config import DeploymentConfig

__all__ = [
    "DEPLOY_SOURCE",
    "HEALTH_ROUTE",
    "PREDICT_ROUTE",
    "SERVING_PORT",
    "container_spec",
    "SHORT_FLAGS",
    "extra_flag_value",
    "field_flags",
    "flag_name",
    "flag_value",
    "vllm_args",
]

SERVING_PORT = 8080
PREDICT_ROUTE = "/generate"
HEALTH_ROUTE = "/ping"
SHARED_MEMORY_MB = 16 * 1024
DEPLOYMENT_TIMEOUT_S = 7200
DEPLOY_SOURCE = "vllm-vertex"


# vLLM's short aliases of long flags (vllm/engine/arg_utils.py).
SHORT_FLAGS = {
    "-tp": "--tensor-parallel-size",
    "-pp": "--pipeline-parallel-size",
    "-dp": "--data-parallel-size",
    "-q": "--quantization",
}


def flag_name(arg: str) -> str:
    """The flag an argument sets, spelled as vLLM's ``FlexibleArgumentParser`` reads it.

    The parser folds underscores into dashes in the name (up to the first ``.``, which starts
    a key of a JSON flag); a value follows ``=`` (or whitespace, inside one item). Short
    aliases become their long form: ``--max_model_len 8192`` → ``--max-model-len``,
    ``--compilation_config.level=3`` → ``--compilation-config``, ``-tp=2`` → ``--tensor-parallel-size``.
    """
    head = re.split(r"[=\s]", arg.strip(), maxsplit=1)[0]
    if head.startswith("--"):
        return "--" + head[2:].split(".", 1)[0].replace("_", "-")
    return SHORT_FLAGS.get(head, head)


def flag_value(arg: str) -> str | None:
    """The value given inside an argument (after ``=`` or whitespace), or None for a bare switch."""
    parts = re.split(r"[=\s]+", arg.strip(), maxsplit=1)
    return parts[1] if len(parts) == 2 else None


def extra_flag_value(cfg: DeploymentConfig, flag: str) -> str | None:
    """The value ``extra_vllm_args`` gives ``flag`` (``--kv-cache-dtype``), however it is spelled; last one wins."""
    values = [flag_value(a) for a in cfg.extra_vllm_args if flag_name(a) == flag]
    return values[-1] if values else None


def vllm_args(cfg: DeploymentConfig) -> list[str]:
    """The container command line, seed flags first, then switches, then ``extra_vllm_args``."""
    args = [
        "python",
        "-m",
        "vllm.entrypoints.api_server",
        "--host=0.0.0.0",
        f"--port={SERVING_PORT}",
        f"--model={cfg.model_id}",
        f"--tensor-parallel-size={cfg.tensor_parallel_size}",
        f"--swap-space={cfg.swap_space_gib}",
        f"--gpu-memory-utilization={cfg.gpu_memory_utilization}",
        f"--max-model-len={cfg.max_model_len}",
        f"--dtype={cfg.dtype}",
        f"--max-loras={cfg.max_loras}",
        f"--max-cpu-loras={cfg.max_cpu_loras}",
        f"--max-num-seqs={cfg.max_num_seqs}",
        "--disable-log-stats",
    ]
    args += [flag for flag, name in SWITCHES.items() if getattr(cfg, name)]
    if cfg.model_type:
        args.append(f"--model-type={cfg.model_type}")
    if cfg.chat_template:
        args.append(f"--chat-template={cfg.chat_template}")
    return args + list(cfg.extra_vllm_args)


# Switch flag → the boolean field that turns it on.
SWITCHES = {
    "--trust-remote-code": "trust_remote_code",
    "--enforce-eager": "enforce_eager",
    "--enable-lora": "enable_lora",
    "--enable-prefix-caching": "enable_prefix_caching",
    "--enable-chunked-prefill": "enable_chunked_prefill",
}

# Every flag a field controls (whether or not the field is set now), and that field;
# "" for the flags the serving contract fixes.
FIELD_FLAGS = {
    "--host": "",
    "--port": "",
    "--disable-log-stats": "",
    "--model": "model_id",
    "--tensor-parallel-size": "accelerator_count",
    "--swap-space": "swap_space_gib",
    "--gpu-memory-utilization": "gpu_memory_utilization",
    "--max-model-len": "max_model_len",
    "--dtype": "dtype",
    "--max-loras": "max_loras",
    "--max-cpu-loras": "max_cpu_loras",
    "--max-num-seqs": "max_num_seqs",
    "--model-type": "model_type",
    "--chat-template": "chat_template",
    **SWITCHES,
}


def field_flags() -> dict[str, str]:
    """Flags the fields control (with their ``--no-`` forms for switches) → the field ("" = fixed)."""
    return {**FIELD_FLAGS, **{"--no-" + flag[2:]: name for flag, name in SWITCHES.items()}}


def generated_flags(cfg: DeploymentConfig) -> set[str]:
    """Flags that ``vllm_args`` sets from fields (an extra arg must not set them again)."""
    import dataclasses

    return {flag_name(a) for a in vllm_args(dataclasses.replace(cfg, extra_vllm_args=[]))[3:]}


def container_spec(cfg: DeploymentConfig, hf_token: str | None = None) -> dict:
    """The Model's ``containerSpec`` as a dict of ``ModelContainerSpec`` field names.

    Args:
        cfg: The validated deployment configuration.
        hf_token: The Hugging Face token read from Secret Manager, or None.
    """
    env = [
        {"name": "MODEL_ID", "value": cfg.model_id},
        {"name": "DEPLOY_SOURCE", "value": DEPLOY_SOURCE},
    ]
    if hf_token:
        env.append({"name": "HF_TOKEN", "value": hf_token})
    return {
        "image_uri": cfg.serving_image,
        "args": vllm_args(cfg),
        "env": env,
        "ports": [{"container_port": SERVING_PORT}],
        "predict_route": PREDICT_ROUTE,
        "health_route": HEALTH_ROUTE,
        "shared_memory_size_mb": SHARED_MEMORY_MB,
        "deployment_timeout_seconds": DEPLOYMENT_TIMEOUT_S,
    }
