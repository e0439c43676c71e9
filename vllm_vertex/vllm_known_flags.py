"""Each vLLM version's command-line flags, and whether a version would refuse one (``extra_vllm_args``).

The lists (every release 0.6.0-0.32.0, with its date) are read from vLLM's own source by
``scripts/vllm_flag_lists.py`` into ``data/vllm_cli_flags.json``. An image of a known version is held to that
version's flags; a Google tag of no stated version to every release its date bounds (:func:`bound_of`).
A module apart from ``vllm_flags`` (which every step that builds or reads a command line carries): only the
steps that validate a configuration embed the data.
"""

from __future__ import annotations

import functools
import json
import pathlib
import re

__all__ = ["GOOGLE_FLAGS", "bound_of", "known_flags", "releases", "unchecked_warning", "unknown_flag_problem"]
__package_data__ = ("data/vllm_cli_flags.json",)


# Flags of Google's serving container that stock vLLM lacks (Google's vertex-ai-samples notebooks pass them).
GOOGLE_FLAGS = frozenset(
    {"--model-type", "--host-prefix-kv-cache-utilization-target", "--host-prefix-kv-cache-min-len"}
)


@functools.cache
def releases() -> tuple[tuple[str, str, frozenset[str]], ...]:
    """Every vLLM release's (version, date, flags) from 0.6.0, in release order (data/vllm_cli_flags.json).

    The file holds the first release's flags and each release's additions and removals; the date is the newest
    file mtime in its sdist, on or before its upload.
    """
    data = json.loads((pathlib.Path(__file__).parent / "data" / "vllm_cli_flags.json").read_text(encoding="utf-8"))
    flags, out = set(data["base"]), []
    for version, date, added, removed in data["releases"]:
        flags = (flags | set(added)) - set(removed)
        out.append((version, date, frozenset(flags)))
    return tuple(out)


@functools.cache
def known_flags() -> dict[str, frozenset[str]]:
    """Each vLLM version's flags; a version whose image sits past its release holds the next one's too."""
    data = json.loads((pathlib.Path(__file__).parent / "data" / "vllm_cli_flags.json").read_text(encoding="utf-8"))
    out = {version: flags for version, _, flags in releases()}
    for version, tags in data["joins"].items():
        out[version] = frozenset().union(*(out[tag] for tag in tags))
    return out


def bound_of(image: str, *, google_image: bool) -> tuple[str, list[str]] | None:
    """For a Google image of no stated vLLM version: its tag's date and the releases it may carry, else None.

    A tag ``YYYYMMDD_...`` was built that day, so its vLLM was released by then, or is a development build of that
    day (Google's 20250312 image carries a commit past v0.7.3). Such a build's flags reach, at the latest, the first
    new minor release whose branch was cut after that day; vLLM cuts a branch a week or two before the release. So:
    every release dated up to the first new minor (above every minor released by that day) dated 14 days or more
    after it. The lists start at 0.6.0 (2024-09-05): the tag must be dated 180 days after it or later, as Google's
    images carry a vLLM at most weeks old (the four whose version is stated: 2 to 5 weeks), never one older than
    the lists. None when the tag has no date, is older than that or too recent for the next minor to be listed.
    """
    import datetime

    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    if not google_image or not re.match(r"20\d{6}_", tag):
        return None
    try:
        day = datetime.date(int(tag[:4]), int(tag[4:6]), int(tag[6:8]))
    except ValueError:
        return None
    listed = releases()
    if not listed or (day - datetime.timedelta(days=180)).isoformat() < listed[0][1]:
        return None
    minors = [version_key(v)[:2] for v, date, _ in listed if date <= day.isoformat()]
    later = (day + datetime.timedelta(days=14)).isoformat()
    ends = [date for v, date, _ in listed if minors and version_key(v)[:2] > max(minors) and date >= later]
    if not ends:
        return None
    return day.isoformat(), [version for version, date, _ in listed if date <= min(ends)]


def version_key(version: str) -> tuple[int, ...]:
    """``0.6.1.post2`` → (0, 6, 1, 2): release order."""
    return tuple(int(part) for part in version.replace(".post", ".").split("."))


def _takes(name: str, flags: frozenset[str]) -> bool:
    """argparse takes ``name``: one of ``flags``, or a prefix of exactly one (its abbreviation rule)."""
    return name in flags or len([f for f in flags if f.startswith(name)]) == 1


def unknown_flag_problem(name: str, image: str, *, google_image: bool) -> str:
    """Why the vLLM of ``image`` would refuse the flag ``name`` at container start ("" if it would not).

    A unique prefix of a flag passes, as argparse takes it; so does a flag of Google's container on its images.
    A Google tag of no stated version is held to the releases its date bounds (:func:`bound_of`): a flag passes if
    any of them takes it. An image whose version is unknown and unbounded checks nothing (:func:`unchecked_warning`).
    """
    from vllm_vertex.recipes import vllm_version_of

    version = vllm_version_of(image)
    bound = None if version in known_flags() else bound_of(image, google_image=google_image)
    checked = [version] if version in known_flags() else bound[1] if bound else []
    if not checked or (google_image and name in GOOGLE_FLAGS):
        return ""
    if any(_takes(name, known_flags()[v]) for v in checked):
        return ""
    import difflib

    every = frozenset().union(*(known_flags()[v] for v in checked)) | (GOOGLE_FLAGS if google_image else set())
    close = difflib.get_close_matches(name, sorted(every), n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    tag = image.rsplit("/", 1)[-1][:120]
    if bound:
        return (f"{name} is not a flag of any vLLM from {checked[0]} to {checked[-1]} ({len(checked)} releases: "
                f"every one up to {bound[0]}, the date of {tag}, and the next minor, which a development build of "
                f"that day may carry), so the container would refuse to start.{hint} Fix or remove it.")  # fmt: skip
    return (f"{name} is not a flag of vLLM {version} (the vLLM of {tag}), so the container would refuse to start."
            f"{hint} Fix or remove it.")  # fmt: skip


def unchecked_warning(image: str) -> list[str]:
    """The warning for ``extra_vllm_args`` on an image whose vLLM has no flag list or date bound (none otherwise)."""
    from vllm_vertex.config import is_google_serving_image
    from vllm_vertex.recipes import vllm_version_of

    version = vllm_version_of(image)
    if version in known_flags() or bound_of(image, google_image=is_google_serving_image(image)):
        return []
    return [f"warning: extra_vllm_args could not be checked: the vLLM version of {image[:200]} is not known here "
            f"({version}), nor bounded by a dated Google tag within the releases listed, so a flag that vLLM lacks "
            "fails only when the container starts."]  # fmt: skip
