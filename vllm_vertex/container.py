"""The vLLM serving container spec that the upload step gives Vertex AI.

Pure: builds the args, env, ports and routes of Google's vLLM container from a
``DeploymentConfig``. The HF token, when there is one, is passed in at run time by the
upload step and only ever lands in the Model's container env.
"""

from __future__ import annotations

from typing import Any

from vllm_vertex.config import DeploymentConfig
from vllm_vertex.vllm_flags import SWITCHES, flag_name, flag_value

__all__ = [
    "DEPLOY_SOURCE",
    "HEALTH_ROUTE",
    "PREDICT_ROUTE",
    "SERVING_PORT",
    "container_spec",
    "extra_flag_value",
    "vllm_args",
]

SERVING_PORT = 8080
PREDICT_ROUTE = "/generate"
HEALTH_ROUTE = "/ping"
SHARED_MEMORY_MB = 16 * 1024
DEPLOYMENT_TIMEOUT_S = 7200
DEPLOY_SOURCE = "vllm-vertex"


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


def generated_flags(cfg: DeploymentConfig) -> set[str]:
    """Flags that ``vllm_args`` sets from fields (an extra arg must not set them again)."""
    import dataclasses

    return {flag_name(a) for a in vllm_args(dataclasses.replace(cfg, extra_vllm_args=[]))[3:]}


def container_spec(cfg: DeploymentConfig, hf_token: str | None = None) -> dict[str, Any]:
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
