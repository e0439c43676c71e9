"""Which files of a Hugging Face repo vLLM needs to serve the model: weights, configs, tokenizer, chat template.

The rule, on the repo's paths at one commit:

- weights: the top-level ``*.safetensors`` and their index. A Mistral-format ``consolidated*.safetensors`` is
  left out when the Hugging Face shards are there too (vLLM loads the shards; the consolidated file doubles
  the bytes). A repo with no safetensors at all gives its ``pytorch_model*.bin`` and their index instead;
- configs: ``config.json``, ``generation_config.json``, processor and preprocessor configs, quantisation
  configs, ``params.json`` (Mistral format);
- tokenizer: ``tokenizer.json``, ``tokenizer_config.json``, ``tokenizer.model``, ``special_tokens_map.json``,
  ``added_tokens.json``, ``vocab.*``, ``merges.txt``, ``*.tiktoken``, ``tekken.json``, ``spiece.model``;
- chat template: ``chat_template.jinja``, ``chat_template.json``, ``additional_chat_templates/*.jinja``;
- remote code: the top-level ``*.py`` (``trust_remote_code`` loads them from the model folder).

Everything else (``original/`` checkpoints, ONNX, GGUF, images, the README) stays on the Hub.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

__all__ = ["needed"]

_SMALL = (
    "config.json", "generation_config.json", "preprocessor_config.json", "processor_config.json",
    "video_preprocessor_config.json", "quant_config.json", "quantize_config.json", "hf_quant_config.json",
    "params.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
    "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt", "tekken.json", "spiece.model",
    "chat_template.jinja", "chat_template.json", "*.tiktoken", "*.py",
)


def _top(path: str) -> bool:
    return "/" not in path


def needed(paths: Iterable[str]) -> list[str]:
    """The paths among ``paths`` (a repo's files at one commit) that vLLM needs, sorted.

    Args:
        paths: Every file path of the repo, relative to its root.

    Returns:
        The paths to stage; empty when the repo holds no weights vLLM can load.
    """
    files = sorted(set(paths))
    top = [p for p in files if _top(p)]
    weights = [p for p in top if p.endswith(".safetensors")]
    shards = [p for p in weights if not p.startswith("consolidated")]
    if shards:
        weights = shards
    index = [p for p in top if p.endswith(".safetensors.index.json") and (shards or p.startswith("consolidated"))]
    if not weights:
        weights = [p for p in top if fnmatch.fnmatch(p, "pytorch_model*.bin")]
        index = [p for p in top if p == "pytorch_model.bin.index.json"]
    if not weights:
        return []
    small = [p for p in top if any(fnmatch.fnmatch(p, pattern) for pattern in _SMALL)]
    templates = [p for p in files if p.startswith("additional_chat_templates/") and p.endswith(".jinja")]
    return sorted({*weights, *index, *small, *templates})
