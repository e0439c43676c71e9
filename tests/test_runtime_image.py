"""What steps need to run in GCPC's image whatever client versions it holds (issue 8), quick tier.

The image's google-cloud-aiplatform is older than Vertex: its operations carry enum values the client does
not know (1.126.1 does not know ``SUCCESSFULLY_DEPLOYED``). Here the stand-in ends a deploy with a stage no
installed client knows, the way the next stage Vertex adds will look to today's clients.
"""

from __future__ import annotations

import pytest
from google_cloud_pipeline_components.types.artifact_types import VertexEndpoint, VertexModel

import components as c
from tests.standin import FakeBackend, VertexStandin
from tests.standin.discovery import NEWER_ENUM_VALUE as FUTURE_STAGE
from vllm_vertex.cloud import operations
from vllm_vertex.cloud.teardown import teardown_run
from vllm_vertex.config import from_preset

pytestmark = pytest.mark.timeout(120)

RUN = "run-image"


@pytest.fixture
def standin():
    with VertexStandin(FakeBackend(), health_timeout=5) as s:
        s.faults.deploy_stage = FUTURE_STAGE
        yield s


def _deploy(s: VertexStandin, log: list[str]) -> VertexEndpoint:
    cfg = from_preset("llama-3.1-8b-instruct", project="p", deploy_timeout_seconds=30).to_json()
    model = VertexModel(name="model", uri="", metadata={})
    endpoint = VertexEndpoint(name="endpoint", uri="", metadata={})
    c.upload_model.python_func(config=cfg, run_label=RUN, model=model, api_endpoint=s.url)
    c.create_endpoint.python_func(config=cfg, run_label=RUN, endpoint=endpoint, api_endpoint=s.url)
    deployed_id = c.deploy_model.python_func(config=cfg, run_label=RUN, model=model, endpoint=endpoint,
                                             api_endpoint=s.url)
    log.append(deployed_id)
    return endpoint


def test_a_deploy_ending_in_an_unknown_stage_succeeds(standin, capsys):
    ids: list[str] = []
    endpoint = _deploy(standin, ids)
    assert "deploy: done" in capsys.readouterr().out
    [ep] = [e for n, e in standin.resources()["endpoints"].items() if n == endpoint.metadata["resourceName"]]
    assert ep["deployedModels"] == ids


def test_operations_are_read_and_listed_with_the_unknown_stage_skipped(standin):
    from google.api_core import exceptions
    from google.protobuf import json_format

    endpoint = _deploy(standin, [])
    name = endpoint.metadata["resourceName"]
    [op] = [o for o in operations.list_operations(name, "us-central1", standin.url) if "deploy" in o.metadata.type_url.lower()]
    assert op.done and op.metadata.type_url.endswith("DeployModelOperationMetadata")
    again = operations.get_operation(op.name, "us-central1", standin.url)
    assert again == op
    # The strict parse (what api_core's operations client does) refuses the same answer.
    with pytest.raises(json_format.ParseError, match=FUTURE_STAGE):
        json_format.Parse(_raw_operation(standin, op.name), type(op)())
    with pytest.raises(exceptions.NotFound):
        operations.get_operation(op.name + "0", "us-central1", standin.url)


def _raw_operation(s: VertexStandin, name: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"{s.url}/v1/{name}") as answer:
        return answer.read().decode()


def test_teardown_lists_operations_with_an_unknown_stage_and_removes_everything(standin):
    _deploy(standin, [])
    lines: list[str] = []
    report = teardown_run("p", "us-central1", RUN, standin.url, log=lines.append)
    assert report.clean, report.summary()
    assert not [ln for ln in lines if "could not" in ln], lines
    assert standin.resources()["endpoints"] == {} and standin.resources()["models"] == {}
