"""The offline model configs shipped in ``vllm_vertex/model_configs`` (the planner's only file I/O)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vllm_vertex import recipes
from vllm_vertex.errors import PlanError

__all__ = ["MODEL_CONFIG_DIR", "checkpoint_total_size", "load_model_config", "shipped_config"]

# Files this module reads, as globs under ``vllm_vertex/``: a pipeline step that imports it embeds them too
# (``components/_runtime.py`` reads this declaration when it packs the step's modules).
__package_data__ = ("model_configs/*.json",)

MODEL_CONFIG_DIR = Path(__file__).resolve().parent.parent / "model_configs"
_MODEL_CONFIG_DIR = MODEL_CONFIG_DIR


def _index() -> dict[str, dict[str, Any]]:
    """The shipped ``model_configs/index.json``: HF id -> {file, total_size}."""
    with open(_MODEL_CONFIG_DIR / "index.json", encoding="utf-8") as f:
        models: dict[str, dict[str, Any]] = json.load(f)["models"]
    return models


def _hf_id(name: str) -> str:
    """HF id of a preset name (or the name itself)."""
    return recipes.PRESETS[name].model_id if name in recipes.PRESETS else name


def checkpoint_total_size(name_or_id: str) -> int | None:
    """Safetensors ``metadata.total_size`` (bytes) of a shipped model, when known."""
    entry = _index().get(_hf_id(name_or_id))
    return entry.get("total_size") if entry else None


def shipped_config(model_id: str) -> dict[str, Any] | None:
    """The offline config shipped for a HF id or preset name, or None (never reads other paths)."""
    entry = _index().get(_hf_id(model_id))
    if not entry:
        return None
    config: dict[str, Any] = json.loads((_MODEL_CONFIG_DIR / entry["file"]).read_text(encoding="utf-8"))
    return config


def load_model_config(name_or_path: str | Path) -> dict[str, Any]:
    """Reads a model config: a preset name, a HF id shipped offline, or a local config.json/folder.

    Args:
        name_or_path: ``llama-3.1-8b``, ``meta-llama/Meta-Llama-3.1-8B-Instruct``, or a path.

    Returns:
        The config dict.

    Raises:
        PlanError: Not a preset, not shipped, and no such file.
    """
    entry = _index().get(_hf_id(str(name_or_path)))
    path = _MODEL_CONFIG_DIR / entry["file"] if entry else Path(name_or_path)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        known = ", ".join(sorted(_index()))
        raise PlanError(
            f"model {str(name_or_path)!r} is not a preset, a shipped config ({known}) or a config.json path; "
            "download the model's config.json and pass its path."
        )
    try:
        config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PlanError(f"{path} is not valid JSON: {exc}") from None
    return config
