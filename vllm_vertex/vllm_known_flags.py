"""Each vLLM version's command-line flags, and whether a version would refuse one (``extra_vllm_args``).

The lists are read from vLLM's own source by ``scripts/vllm_flag_lists.py`` into ``data/vllm_cli_flags.json``.
A module apart from ``vllm_flags`` (which every step that builds or reads a command line carries): only the
steps that validate a configuration embed the data.
"""

from __future__ import annotations

import functools
import json
import pathlib

__all__ = ["GOOGLE_FLAGS", "known_flags", "unchecked_warning", "unknown_flag_problem"]
__package_data__ = ("data/vllm_cli_flags.json",)


# Flags of Google's serving container that stock vLLM lacks (Google's vertex-ai-samples notebooks pass them).
GOOGLE_FLAGS = frozenset(
    {"--model-type", "--host-prefix-kv-cache-utilization-target", "--host-prefix-kv-cache-min-len"}
)


@functools.cache
def known_flags() -> dict[str, frozenset[str]]:
    """Each vLLM version's flags, read from its source by ``scripts/vllm_flag_lists.py`` (data/vllm_cli_flags.json)."""
    data = json.loads((pathlib.Path(__file__).parent / "data" / "vllm_cli_flags.json").read_text(encoding="utf-8"))
    return {version: frozenset(entry["flags"]) for version, entry in data["versions"].items()}


def unknown_flag_problem(name: str, image: str, *, google_image: bool) -> str:
    """Why the vLLM of ``image`` would refuse the flag ``name`` at container start ("" if it would not).

    A unique prefix of a flag passes, as argparse takes it; so does a flag of Google's container on its images.
    An image whose vLLM version is unknown checks nothing (:func:`unchecked_warning` says so).
    """
    from vllm_vertex.recipes import vllm_version_of

    version = vllm_version_of(image)
    flags = known_flags().get(version)
    if flags is None or (google_image and name in GOOGLE_FLAGS):
        return ""
    if name in flags or len([f for f in flags if f.startswith(name)]) == 1:
        return ""
    import difflib

    close = difflib.get_close_matches(name, sorted(flags | (GOOGLE_FLAGS if google_image else set())), n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    tag = image.rsplit("/", 1)[-1][:120]
    return (f"{name} is not a flag of vLLM {version} (the vLLM of {tag}), so the container would refuse to start."
            f"{hint} Fix or remove it.")  # fmt: skip


def unchecked_warning(image: str) -> list[str]:
    """The warning for ``extra_vllm_args`` on an image whose vLLM version has no flag list (none if it has one)."""
    from vllm_vertex.recipes import vllm_version_of

    version = vllm_version_of(image)
    if version in known_flags():
        return []
    return [f"warning: extra_vllm_args could not be checked: the vLLM version of {image[:200]} is not known here "
            f"({version}), so a flag that vLLM lacks fails only when the container starts."]  # fmt: skip
