"""Runs the deploy-and-verify pipeline under ``kfp.local`` in this process; prints a JSON verdict.

``python -m tests.e2e.run_local REQUEST_JSON`` where the request holds ``config`` (a
DeploymentConfig dict), ``pipeline_root`` and ``job_resource_name``. The stand-ins are named by the
environment (``VLLM_VERTEX_API_ENDPOINT``, ``VLLM_VERTEX_HF_ENDPOINT``), which the steps inherit.

kfp.local does not resolve ``{{$.pipeline_job_resource_name}}`` (kfp 2.17 fails on it with an
IndexError): ``resolve_job_resource_name`` makes it resolve to the name Vertex would give the run,
``projects/P/locations/L/pipelineJobs/ID``, chosen by the test, so tests can give two runs
colliding job IDs. The last line printed is
``RESULT {"status": ..., "error": ..., "failed_task": ...}``. Run in a subprocess so that a test
can kill it (a cancel) and so kfp.local's global state never leaks between runs.
"""

from __future__ import annotations

import json
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def user_error(log: str) -> str:
    """The exception text of the first failed task, as the user reads it in the task's log."""
    lines = ANSI.sub("", log).splitlines()
    for i, line in enumerate(lines):
        if line.strip() != "Traceback (most recent call last):":
            continue
        indent = len(line) - len(line.lstrip())
        j = i + 1
        while j < len(lines) and len(lines[j]) - len(lines[j].lstrip()) > indent:
            j += 1
        message = []
        while j < len(lines) and lines[j].startswith(" " * indent) and "[KFP Executor" not in lines[j]:
            message.append(lines[j].strip())
            j += 1
        text = "\n".join(m for m in message if m)
        if text:
            return text
    return ""


def resolve_job_resource_name(job_resource_name: str) -> None:
    """Makes kfp.local resolve ``dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER`` to ``job_resource_name``."""
    from kfp import dsl
    from kfp.local import placeholder_utils

    original = placeholder_utils.resolve_individual_placeholder

    def resolve(element: str, *args, **kwargs) -> str:
        element = element.replace(dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER, job_resource_name)
        return original(element, *args, **kwargs)

    placeholder_utils.resolve_individual_placeholder = resolve


def main(request_json: str) -> int:
    """Runs one pipeline; returns 0 whatever the outcome (the verdict is in the RESULT line)."""
    from kfp import local

    from pipelines import deploy_and_verify, pipeline_arguments
    from vllm_vertex.config import from_dict

    request = json.loads(request_json)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=request["pipeline_root"])
    resolve_job_resource_name(request["job_resource_name"])
    cfg = from_dict(request["config"])
    args = pipeline_arguments(cfg)
    return run_and_report(lambda: deploy_and_verify(**args))


def run_and_report(run) -> int:
    """Calls ``run`` (a kfp.local pipeline run) and prints its ``RESULT`` line; returns 0 whatever the outcome."""
    status, failed_task, summary = "SUCCESS", "", ""
    try:
        run()
    except RuntimeError as err:
        status = "FAILURE"
        summary = ANSI.sub("", str(err))
        found = re.search(r"Inner task failed: '?([\w-]+)", summary)
        failed_task = found[1] if found else ""
    sys.stdout.flush()
    print("RESULT " + json.dumps({"status": status, "failed_task": failed_task, "summary": summary}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
