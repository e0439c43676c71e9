"""``vllm-vertex``: compile, submit and follow runs, schedule them, smoke-test and tear down.

A thin click layer: the subcommands live in ``vllm_vertex/commands/`` and call the library.
Nothing heavy is imported at start, so ``vllm-vertex --help`` answers at once.
"""

from __future__ import annotations

import click

from vllm_vertex.commands._common import guarded
from vllm_vertex.commands._entry import EntryGroup
from vllm_vertex.commands.doctor import doctor
from vllm_vertex.commands.follow import follow, status
from vllm_vertex.commands.lists import endpoints, logs, presets, runs
from vllm_vertex.commands.ops import smoke, teardown
from vllm_vertex.commands.plan import plan
from vllm_vertex.commands.probe import probe
from vllm_vertex.commands.runs import schedule, submit
from vllm_vertex.commands.weights import weights

__all__ = ["main"]


@click.group(cls=EntryGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="vllm-vertex", prog_name="vllm-vertex", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show the traceback of expected failures too.")
def main(debug):
    """Deploy open LLMs to Vertex AI with vLLM, prove they answer, and clean up.

    Exit codes: 0 success; 1 a run, check or deletion failed; 2 bad input or set-up (credentials,
    permissions, APIs; nothing sent).
    """


@main.command("compile")
@click.option("--out", default="compiled", show_default=True, help="Folder for the compiled YAML files.")
@click.option("--image", default="", metavar="URI",
              help="Run every step on this prebuilt runtime image (image/Dockerfile): no run-time installs.")
@guarded
def compile_command(out, image):
    """Compile every pipeline to YAML, offline (what `python compile.py` does)."""
    from pipelines import compile_all

    paths = compile_all(out, log=click.echo, image=image)
    click.echo(f"compiled {len(paths)} pipelines")


for _command in (submit, status, follow, schedule, smoke, teardown, plan, probe, doctor):
    main.add_command(_command)
for _command in (presets, endpoints, runs, logs, weights):
    main.add_command(_command)


if __name__ == "__main__":
    main()
