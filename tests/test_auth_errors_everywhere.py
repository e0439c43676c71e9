"""A 401 whose credential refresh fails is the named message with the fix on every path; 403 texts are clean;
an undeploy 403 is not called "busy" (issue 17, item 12)."""

import pytest

from tests.cli_support import PROJECT, REGION, deploy
from vllm_vertex.cloud import auth, smoke, vertex
from vllm_vertex.cloud import teardown as td
from vllm_vertex.config import from_preset

pytestmark = pytest.mark.timeout(120)

A = "run-a"
UNAUTHENTICATED = "Request had invalid authentication credentials."


def test_a_401_on_cleanups_listing_is_a_teardown_error_with_the_fix(standin):
    deploy(standin, A)
    standin.faults.add("list_endpoints", status=401, times=None, message=UNAUTHENTICATED)
    with pytest.raises(td.TeardownError) as info:
        td.teardown_run(PROJECT, REGION, A, log=lambda _: None)
    text = str(info.value)
    assert "401" in text and "gcloud auth application-default login" in text and f"--run-label {A}" in text


def test_a_401_on_upload_is_a_credentials_problem(standin):
    cfg = from_preset("llama-3.1-8b-instruct", project=PROJECT)
    standin.faults.add("upload", status=401, times=None, message=UNAUTHENTICATED)
    with pytest.raises(auth.CredentialsError, match=r"^upload the model: .*application-default login"):
        vertex.upload_model(cfg, A, None)


def test_a_401_while_polling_a_deploy_is_a_credentials_problem(standin):
    cfg = from_preset("llama-3.1-8b-instruct", project=PROJECT)
    model = vertex.upload_model(cfg, A, None)
    endpoint = vertex.create_endpoint(cfg, A)
    standin.faults.add("get_operation", status=401, times=None, message=UNAUTHENTICATED)
    with pytest.raises(auth.CredentialsError, match=r"^deploy the model: .*application-default login") as info:
        vertex.deploy_model(cfg, model, endpoint.name, A, log=lambda _: None)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_401_on_predict_is_named_in_the_check(standin):
    endpoint = deploy(standin, A)
    cfg = from_preset("llama-3.1-8b-instruct", project=PROJECT, run_chat_checks=False)
    standin.faults.add("predict", status=401, times=None, message=UNAUTHENTICATED)
    [result] = smoke.run_checks(smoke.target_for(cfg, endpoint.name), log=lambda _: None)
    assert not result.passed and "application-default login" in result.error
    assert not result.error.startswith("InvalidOperation")


def test_403_texts_name_no_transport_url_and_end_with_one_full_stop(standin):
    endpoint = deploy(standin, A)
    standin.faults.add("delete_endpoint", status=403, times=None,
                       message=f"Permission 'aiplatform.endpoints.delete' denied on resource '{endpoint.name}'.")  # fmt: skip
    report = td.teardown_run(PROJECT, REGION, A, log=lambda _: None)
    why = report.failed[endpoint.name]
    assert "http://" not in why and "%24alt" not in why and "DELETE " not in why
    assert ".." not in why and "aiplatform.endpoints.delete" in why


def test_after_an_undeploy_403_the_log_does_not_call_the_model_busy(standin):
    deploy(standin, A)
    standin.faults.add("undeploy", status=403, times=None, message="Permission 'aiplatform.endpoints.undeploy' denied")
    said: list[str] = []
    report = td.teardown_run(PROJECT, REGION, A, log=said.append, wait_seconds=0)
    [model] = standin.resources()["models"]
    assert "could not be removed" in report.failed[model]
    model_lines = [line for line in said if model in line]
    assert model_lines and not any("busy" in line for line in model_lines), said
