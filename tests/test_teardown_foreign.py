"""``teardown --endpoint`` refuses an endpoint vllm-vertex did not create, unless --force (issue 17, item 2)."""

import json

import pytest

from tests.cli_support import deploy, invoke

pytestmark = pytest.mark.timeout(120)


def _foreign(standin):
    endpoint = deploy(standin)
    with standin.state.lock:  # as if made by someone else: only their label
        standin.state.endpoints[endpoint.name]["labels"] = {"team": "someone-else"}
    return endpoint


def _writes(standin) -> list[str]:
    return [m for m, _, _ in standin.requests if m in ("POST", "DELETE")]


def test_teardown_endpoint_refuses_a_foreign_endpoint_even_with_yes(standin):
    endpoint = _foreign(standin)
    before, sent = standin.resources(), len(_writes(standin))
    result = invoke(standin, "teardown", "--endpoint", endpoint.name, "--yes")
    assert result.exit_code == 2, result.output
    assert "lacks the label managed-by=vllm-vertex" in result.output and "team=someone-else" in result.output
    assert "--force" in result.output
    assert standin.resources() == before and len(_writes(standin)) == sent


def test_teardown_endpoint_force_shows_the_labels_and_warns_in_the_question(standin):
    endpoint = _foreign(standin)
    result = invoke(standin, "teardown", "--endpoint", endpoint.name, "--force", input="n\n")
    assert result.exit_code == 0, result.output
    asked = result.output.split("nothing removed")[0]
    assert "labels: team=someone-else" in asked and "NOT created by vllm-vertex" in asked
    result = invoke(standin, "teardown", "--endpoint", endpoint.name, "--force", "--yes", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["labels"] == {"team": "someone-else"}
    assert standin.resources()["endpoints"] == {}


def test_teardown_endpoint_shows_the_labels_of_our_endpoint(standin):
    endpoint = deploy(standin)
    result = invoke(standin, "teardown", "--endpoint", endpoint.name, "--yes")
    assert result.exit_code == 0, result.output
    assert "managed-by=vllm-vertex" in result.output.split("will delete")[0]
