"""Every step's stdout and stderr pass through the one mask before they reach the real stream (issue 17)."""

from __future__ import annotations

import io
import subprocess
import sys

from components import _runtime
from vllm_vertex.masked_streams import MaskedStream

TOKEN = "hf_" + "Qz8" * 12  # a planted Hugging Face token
HALF = len(TOKEN) // 2


def leaky_step():
    """A step that prints a token whole, in two writes, to stderr, and through a library's logger."""
    import logging
    import sys

    token = "hf_" + "Qz8" * 12
    print(f"whole {token} end")
    sys.stdout.write(f"split {token[:18]}")
    sys.stdout.flush()
    sys.stdout.write(f"{token[18:]} end\n")
    print(f"stderr {token}", file=sys.stderr)
    logging.getLogger("some.library").warning("library %s", token)
    sys.stdout.write(f"unfinished {token}")


def test_a_steps_program_masks_what_it_prints_on_the_real_streams(tmp_path):
    """The step's own program (the embedded archive, not this checkout) under KFP's executor, in a fresh
    interpreter: the executor's own log of its input (``Got executor_input``), written through the logging handler
    it set up before loading the step, is masked too."""
    import json

    component = _runtime.vllm_component()(leaky_step)
    assert "vllm_vertex/masked_streams.py" in _runtime.embedded_files(component)
    program = tmp_path / "ephemeral_component.py"
    program.write_text(component.component_spec.implementation.container.command[-1])
    executor_input = {"inputs": {"parameterValues": {"note": TOKEN}}, "outputs": {"outputFile": str(tmp_path / "o")}}
    done = subprocess.run([sys.executable, "-m", "kfp.dsl.executor_main", "--component_module_path", str(program),
                           "--function_to_execute", "leaky_step", "--executor_input", json.dumps(executor_input)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out, err = done.stdout, done.stderr
    for text in (out, err):
        assert TOKEN[:HALF] not in text and TOKEN[HALF:] not in text, text
    assert "Got executor_input" in out and '"note": "hf_****"' in out, out
    assert "whole hf_**** end" in out and "split hf_**** end" in out and "library hf_****" in out, out
    assert "unfinished hf_****" in out  # the last, unfinished line is written at exit
    assert "stderr hf_****" in err, err


def test_a_line_is_held_until_it_ends_and_the_real_stream_keeps_its_interface():
    raw = io.StringIO()
    stream = MaskedStream(raw)
    stream.write(f"a {TOKEN[:HALF]}")
    stream.flush()
    assert raw.getvalue() == ""  # the first half of a token is not written on its own
    stream.writelines([TOKEN[HALF:], " b\nnext"])
    assert raw.getvalue() == "a hf_**** b\n"
    stream.close()
    assert raw.getvalue() == "a hf_**** b\nnext" and not raw.closed
    assert stream.getvalue() == raw.getvalue()  # anything else is the real stream's


def test_the_compiled_programs_mask_before_the_step_runs():
    """Every step, embedded archive or prebuilt image, calls the mask before its function is defined and run."""
    import components as c

    for name in c.__all__:
        component = getattr(c, name)
        func = component.python_func
        for program in (component.component_spec.implementation.container.command[-1],
                        _runtime.image_container(func.__name__, "img")["command"][-1]):  # fmt: skip
            assert program.count("__vllm_vertex_mask()") == 1, name
            assert program.index("__vllm_vertex_mask()") < program.index(f"\ndef {func.__name__}("), name
