"""Ctrl-C exits 130 (the probe keeps the levels it measured), a reader that closes the pipe early is not an error,
``--debug`` goes anywhere. Real processes: SIGINT is sent to the CLI, stdout is a pipe whose reader is gone."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from tests.cli_support import TEXT, invoke
from tests.standin.chat_stream import ChatTiming, TimedChatServer

ROOT = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(180)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _start(*args: str, importtime: bool = False, **kw) -> subprocess.Popen:
    """The CLI in a child that takes SIGINT as a terminal's Ctrl-C would (not ignored, as a background job's is)."""
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.Popen([sys.executable, *flags, "-m", "vllm_vertex.cli", *args], cwd=ROOT, env=_env(),
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)


def _interrupt_once_imported(proc: subprocess.Popen, module: str) -> str:
    """Waits until the child imports ``module`` (a command body's import: main is running), then sends SIGINT."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("import time:") and line.rsplit("|", 1)[-1].strip() == module:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.communicate(timeout=120)
    return "".join(seen) + (rest[1] or "")


@pytest.mark.parametrize("args, module", [
    (["compile", "--out", "{tmp}"], "kfp"),
    (["submit", TEXT, "--dry-run"], "vllm_vertex.preflight"),
])
def test_ctrl_c_exits_130_with_one_line(tmp_path, args, module):
    proc = _start(*[a.replace("{tmp}", str(tmp_path)) for a in args], importtime=True,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr = _interrupt_once_imported(proc, module)
    assert proc.returncode == 130, stderr[-2000:]
    assert stderr.rstrip().endswith("interrupted (Ctrl-C)") and "Traceback" not in stderr
    assert "Aborted!" not in stderr


def test_ctrl_c_in_the_probe_prints_and_keeps_the_levels_measured(tmp_path):
    results = tmp_path / "r.json"
    with TimedChatServer(ChatTiming(ttft_s=0.3, itl_s=0.05)) as server:
        proc = _start("probe", "--base-url", server.base_url, "--concurrency", "1,8", "--num-requests", "2",
                      "--input-tokens", "8", "--output-tokens", "3", "--json", "--results", str(results),
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while server.max_in_flight < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # level 1 runs one request at a time: two in flight means level 8 has begun
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    summary = json.loads(out)
    assert [level["concurrency"] for level in summary["levels"]] == [1]
    assert "interrupted (Ctrl-C): the levels above are those measured before it" in err and "Traceback" not in err
    kept = json.loads(results.read_text())
    assert kept["interrupted"] is True and [level["concurrency"] for level in kept["levels"]] == [1]
    assert any("interrupted (Ctrl-C) after 1 of 2 concurrency levels" in note for note in kept["client_notes"])


@pytest.mark.parametrize("args, code", [
    (["plan", "--preset", "llama-3.1-8b-instruct"], 0),
    (["plan", "--preset", "llama-3.2-11b-vision-instruct", "--max-num-seqs", "256"], 1),  # does not fit
    (["plan", "--preset", "llama-3.1-8b-instruct", "--json"], 0),
])
def test_a_reader_that_closed_the_pipe_leaves_the_commands_own_status(args, code):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -1` that has already gone: every write gets EPIPE
    try:
        proc = _start(*args, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert err == "" or ("Broken pipe" not in err and "Exception ignored" not in err and "Traceback" not in err), err


def test_a_reader_that_stops_after_one_line():
    proc = _start("plan", "--preset", "llama-3.1-8b-instruct", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert first.startswith("hardware: g2-standard-12") and proc.returncode == 0
    assert "Broken pipe" not in err and "Exception ignored" not in err


def test_debug_is_accepted_after_the_subcommand():
    before = invoke(None, "--debug", "plan", "--preset", "nope")
    after = invoke(None, "plan", "--preset", "nope", "--debug")
    assert before.exit_code == after.exit_code == 2
    assert "Traceback" in after.output and "No such option" not in after.output
    assert before.output.splitlines()[-1] == after.output.splitlines()[-1]


# What pip's console script runs (``from MODULE import FUNC; sys.exit(FUNC())``), preceded by a hook that sends
# this process SIGINT while ``vllm_vertex.cli`` imports its commands: Ctrl-C in a command's first tenths of a second.
_CTRL_C_WHILE_STARTING = """
import importlib.abc, os, signal, sys
class Interrupt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "vllm_vertex.commands.plan":
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
sys.argv = ["vllm-vertex", "plan", "--preset", "llama-3.1-8b-instruct"]
from {module} import {func}
sys.exit({func}())
"""


def test_ctrl_c_while_the_console_script_starts_exits_130_quietly():
    import tomllib

    script = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["vllm-vertex"]
    module, func = script.split(":")
    proc = subprocess.run([sys.executable, "-c", _CTRL_C_WHILE_STARTING.format(module=module, func=func)], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "interrupted (Ctrl-C)\n" and proc.stdout == ""
