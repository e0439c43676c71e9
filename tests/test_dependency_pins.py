"""Pins are past the CVEs of issue 17 (item 10) wherever we pin them; Actions are pinned by commit."""

import pathlib
import re

from components._runtime import PACKAGES

ROOT = pathlib.Path(__file__).resolve().parent.parent

# aiohttp: 3.14.4 fixes GHSA-h4cc-hm5h-fmm9 (the issue); urllib3 and protobuf: newer than the versions the issue
# names as affected (2.5.0 and 6.33.0, the image's own).
FLOORS = {"aiohttp": (3, 14, 4), "urllib3": (2, 5, 1), "protobuf": (6, 33, 1)}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def _pins(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*\"?([A-Za-z0-9_.-]+)==([0-9][^\s\",]*)", text, re.M))


def test_aiohttp_is_past_the_cves_in_pyproject_and_the_steps():
    pyproject = _pins((ROOT / "pyproject.toml").read_text())
    assert _version(pyproject["aiohttp"]) >= FLOORS["aiohttp"]
    assert _version(PACKAGES["aiohttp"].split("==")[1]) >= FLOORS["aiohttp"]
    assert PACKAGES["aiohttp"].split("==")[1] == pyproject["aiohttp"]  # the CLI and the probe step run the same


def test_the_runtime_image_lock_raises_aiohttp_urllib3_and_protobuf():
    lock = _pins((ROOT / "image" / "runtime-image.lock").read_text())
    for name, floor in FLOORS.items():
        assert _version(lock[name]) >= floor, name
    assert _version(lock["yarl"]) >= (1, 25, 1)  # what aiohttp 3.14 requires; the image has 1.22.0


def test_github_actions_are_pinned_by_commit():
    for workflow in (ROOT / ".github" / "workflows").glob("*.y*ml"):
        for ref in re.findall(r"uses:\s*(\S+)", workflow.read_text()):
            if not ref.startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{workflow.name}: {ref}"
