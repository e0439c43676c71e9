"""vLLM's command-line flags: how its parser reads an argument, and which flags the config's fields control.

Pure and below both ``config`` (which checks ``extra_vllm_args`` with it) and ``container`` (which
builds the serving command line with it).
"""

from __future__ import annotations

import re

__all__ = ["FIELD_FLAGS", "SHORT_FLAGS", "SWITCHES", "field_flags", "flag_name", "flag_value"]


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
