"""The Vertex AI stand-in, exercised with the real official clients (REST, anonymous credentials)."""

from __future__ import annotations

import base64
import datetime
import json

import pytest
import requests
from google.api import httpbody_pb2
from google.api_core import exceptions as exc
from google.api_core import retry as r
from google.api_core.future import polling
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1 as v1
from google.protobuf import struct_pb2

from tests.standin import discovery, project_number

pytestmark = pytest.mark.timeout(60)

P, L = "my-proj", "us-central1"
PARENT = f"projects/{P}/locations/{L}"
FAST = polling.DEFAULT_POLLING.with_delay(initial=0.02, maximum=0.1).with_timeout(10)
RETRY = r.Retry(predicate=r.if_exception_type(exc.TooManyRequests, exc.ServiceUnavailable, exc.InternalServerError),
                initial=0.01, maximum=0.05, timeout=5)


def _opts(url: str) -> dict:
    return {"credentials": AnonymousCredentials(), "transport": "rest", "client_options": {"api_endpoint": url}}


@pytest.fixture
def models(standin):
    return v1.ModelServiceClient(**_opts(standin.url))


@pytest.fixture
def endpoints(standin):
    return v1.EndpointServiceClient(**_opts(standin.url))


def _model(**labels) -> v1.Model:
    return v1.Model(
        display_name="llama-model",
        labels=labels or {"vllm-vertex-run": "abc"},
        container_spec=v1.ModelContainerSpec(
            image_uri="us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-serve:20251205_0916_RC01",
            args=["python", "-m", "vllm.entrypoints.api_server", "--port=8080"],
            env=[v1.EnvVar(name="MODEL_ID", value="meta-llama/Llama-3.1-8B-Instruct")],
            ports=[v1.Port(container_port=8080)],
            predict_route="/generate",
            health_route="/ping",
            shared_memory_size_mb=16384,
            deployment_timeout=datetime.timedelta(seconds=7200),
        ),
    )


def _upload(models, **labels) -> str:
    res = models.upload_model(parent=PARENT, model=_model(**labels)).result(polling=FAST)
    return f"{res.model}@{res.model_version_id}"


def _deployed(machine="g2-standard-8", accel=v1.AcceleratorType.NVIDIA_L4, model="") -> v1.DeployedModel:
    return v1.DeployedModel(
        model=model,
        display_name="llama-deployed",
        dedicated_resources=v1.DedicatedResources(
            machine_spec=v1.MachineSpec(machine_type=machine, accelerator_type=accel, accelerator_count=1),
            min_replica_count=1, max_replica_count=1, spot=True),
        service_account="sa@my-proj.iam.gserviceaccount.com",
    )


def _deploy(models, endpoints, dedicated=False):
    model = _upload(models)
    ep = endpoints.create_endpoint(parent=PARENT, endpoint=v1.Endpoint(
        display_name="ep", labels={"vllm-vertex-run": "abc"}, dedicated_endpoint_enabled=dedicated)).result(polling=FAST)
    op = endpoints.deploy_model(endpoint=ep.name, deployed_model=_deployed(model=model), traffic_split={"0": 100})
    dm = op.result(polling=FAST).deployed_model
    return model, endpoints.get_endpoint(name=ep.name), dm


def test_upload_get_list_delete_model(standin, models):
    op = models.upload_model(parent=PARENT, model=_model())
    assert not op.operation.done and "/models/" in op.operation.name  # the first answer is never done
    res = op.result(polling=FAST)
    for prefix in ("ui", "v1", "v1beta1"):  # every operations route form answers
        got = requests.get(f"{standin.url}/{prefix}/{op.operation.name}").json()
        assert got["done"] and got["response"]["model"] == res.model
    number = project_number(P)
    assert res.model.startswith(f"projects/{number}/locations/{L}/models/") and res.model_version_id == "1"
    got = models.get_model(name=f"{res.model}@1")
    assert got.container_spec.deployment_timeout == datetime.timedelta(seconds=7200)
    assert got.container_spec.shared_memory_size_mb == 16384 and got.labels["vllm-vertex-run"] == "abc"
    assert models.get_model(name=f"projects/{P}/locations/{L}/models/{res.model.rsplit('/', 1)[1]}").name == res.model
    _upload(models, **{"vllm-vertex-run": "other"})
    found = list(models.list_models(request={"parent": PARENT, "filter": 'labels.vllm-vertex-run="abc"'}))
    assert [m.name for m in found] == [res.model]
    assert len(list(models.list_models(request={"parent": PARENT, "filter": "labels.vllm-vertex-run=other"}))) == 1
    assert len(list(models.list_models(parent=PARENT))) == 2
    pages = list(models.list_models(request={"parent": PARENT, "page_size": 1}).pages)
    assert len(pages) == 2 and pages[0].next_page_token
    models.delete_model(name=res.model).result(polling=FAST)
    with pytest.raises(exc.NotFound):
        models.get_model(name=res.model)
    with pytest.raises(exc.NotFound):
        models.get_model(name=f"{found[0].name.rsplit('/', 1)[0]}/12345@1")
    paths = [p for m, p, _ in standin.requests]
    assert any(p.startswith(f"/v1/{PARENT}/models:upload?$alt=json;enum-encoding=int") for p in paths)
    assert any(p.startswith("/ui/projects/") and "/operations/" in p for p in paths)  # how the REST client polls


def test_unknown_field_and_wrong_type_are_rejected(standin):
    url = f"{standin.url}/v1/{PARENT}/models:upload"
    bad = requests.post(url, json={"model": {"displayName": "x", "containerSpec": {"imageUri": "i", "bogus": 1}}})
    assert bad.status_code == 400 and "bogus" in bad.json()["error"]["message"]
    assert bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    wrong = requests.post(url, json={"model": {"displayName": 5}})
    assert wrong.status_code == 400 and "display_name" in wrong.json()["error"]["message"]
    enum = requests.post(f"{standin.url}/v1/{PARENT}/endpoints/1:deployModel",
                         json={"deployedModel": {"dedicatedResources": {"machineSpec": {"acceleratorType": "NVIDIA_Z"}}}})
    assert enum.status_code == 400 and "accelerator_type" in enum.json()["error"]["message"]
    assert requests.get(f"{standin.url}/v1/{PARENT}/models?bogus=1").status_code == 400
    assert requests.get(f"{standin.url}/v1/nothing/here").status_code == 404


def test_unknown_field_raises_bad_request_in_client(standin, models):
    # the client cannot send unknown fields itself: inject one on the wire
    session = models._transport._session
    original = session.request

    def request(method, url, **kw):
        if kw.get("data"):
            body = json.loads(kw["data"])
            body["model"]["notAField"] = True
            kw["data"] = json.dumps(body)
        return original(method, url, **kw)

    session.request = request
    with pytest.raises(exc.BadRequest, match="notAField"):
        models.upload_model(parent=PARENT, model=_model())


def test_required_fields_and_labels(standin, models, endpoints):
    with pytest.raises(exc.BadRequest, match="display_name"):
        models.upload_model(parent=PARENT, model=v1.Model(container_spec=v1.ModelContainerSpec(image_uri="i")))
    with pytest.raises(exc.BadRequest, match="label"):
        endpoints.create_endpoint(parent=PARENT, endpoint=v1.Endpoint(display_name="e", labels={"Bad": "x"}))


def test_endpoint_lifecycle_and_deploy(standin, models, endpoints):
    model, ep, dm = _deploy(models, endpoints)
    assert dm.id and ep.traffic_split == {dm.id: 100} and ep.deployed_models[0].id == dm.id
    assert dm.dedicated_resources.machine_spec.accelerator_type == v1.AcceleratorType.NVIDIA_L4
    assert dm.dedicated_resources.spot and dm.service_account.startswith("sa@")
    assert not ep.dedicated_endpoint_dns
    assert [e.name for e in endpoints.list_endpoints(request={"parent": PARENT, "filter": 'labels.vllm-vertex-run="abc"'})] == [ep.name]
    assert list(endpoints.list_endpoints(request={"parent": PARENT, "filter": 'labels.vllm-vertex-run="zzz"'})) == []
    assert standin.resources()["deployedModels"][dm.id]["state"] == "deployed"
    with pytest.raises(exc.BadRequest):
        endpoints.delete_endpoint(name=ep.name)
    with pytest.raises(exc.BadRequest):
        models.delete_model(name=model.split("@")[0])
    endpoints.undeploy_model(endpoint=ep.name, deployed_model_id=dm.id).result(polling=FAST)
    assert standin.backend.stopped == [dm.id]
    assert not endpoints.get_endpoint(name=ep.name).deployed_models
    endpoints.delete_endpoint(name=ep.name).result(polling=FAST)
    models.delete_model(name=model.split("@")[0]).result(polling=FAST)
    assert standin.resources() == {"models": {}, "endpoints": {}, "deployedModels": {}}


def test_deploy_operation_metadata_and_invalid_machine(standin, models, endpoints):
    model = _upload(models)
    ep = endpoints.create_endpoint(parent=PARENT, endpoint=v1.Endpoint(display_name="e")).result(polling=FAST)
    with pytest.raises(exc.BadRequest, match="not supported with accelerator"):
        endpoints.deploy_model(endpoint=ep.name, deployed_model=_deployed("g2-standard-8", v1.AcceleratorType.NVIDIA_TESLA_T4, model))
    with pytest.raises(exc.NotFound):
        endpoints.deploy_model(endpoint=ep.name, deployed_model=_deployed(model=f"{PARENT}/models/999"))
    standin.backend.start_delay = 0.3
    op = endpoints.deploy_model(endpoint=ep.name, deployed_model=_deployed(model=model), traffic_split={"0": 100})
    assert "/endpoints/" in op.operation.name and not op.done()
    assert op.metadata.deployment_stage.name in ("STARTING_DEPLOYMENT", "STARTING_MODEL_SERVER")
    op.result(polling=FAST)
    assert op.metadata.deployment_stage.name == "SUCCESSFULLY_DEPLOYED"


def test_deploy_errors(standin, models, endpoints):
    model = _upload(models)
    ep = endpoints.create_endpoint(parent=PARENT, endpoint=v1.Endpoint(display_name="e")).result(polling=FAST)
    standin.faults.deploy_error("Model server exited unexpectedly: CUDA out of memory", code=3)
    op = endpoints.deploy_model(endpoint=ep.name, deployed_model=_deployed(model=model))
    with pytest.raises(exc.InvalidArgument, match="CUDA out of memory"):
        op.result(polling=FAST)
    assert "CUDA out of memory" in op.exception().message
    standin.backend.fail_start = "KV cache is too small"
    op = endpoints.deploy_model(endpoint=ep.name, deployed_model=_deployed(model=model))
    assert "KV cache is too small" in str(op.exception(timeout=10))
    standin.backend.fail_start = None
    standin.backend.healthy = False
    standin.health_timeout = 0.3
    op = endpoints.deploy_model(endpoint=ep.name, deployed_model=_deployed(model=model))
    assert "never became ready" in str(op.exception(timeout=10))
    standin.faults.deploy_hang()
    op = endpoints.deploy_model(endpoint=ep.name, deployed_model=_deployed(model=model))
    with pytest.raises(TimeoutError):
        op.result(timeout=0.5, polling=FAST)
    assert standin.operation(op.operation.name)["metadata"]["deploymentStage"] == "STARTING_DEPLOYMENT"
    assert not endpoints.get_endpoint(name=ep.name).deployed_models


def test_faults_429_then_success(standin, models, endpoints):
    standin.faults.add("upload", status=429, times=2)
    standin.faults.add("create_endpoint", status=503, times=1)
    standin.faults.add("get_operation", status=500, times=1)
    with pytest.raises(exc.TooManyRequests):
        models.upload_model(parent=PARENT, model=_model())
    op = models.upload_model(parent=PARENT, model=_model(), retry=RETRY)  # second 429 retried
    op.result(polling=FAST, retry=RETRY)
    endpoints.create_endpoint(parent=PARENT, endpoint=v1.Endpoint(display_name="e"), retry=RETRY).result(polling=FAST)
    uploads = [p for m, p, _ in standin.requests if ":upload" in p]
    assert len(uploads) == 3


def test_predict_and_raw_predict(standin, models, endpoints):
    _, ep, dm = _deploy(models, endpoints)
    pred = v1.PredictionServiceClient(**_opts(standin.url))
    instance = struct_pb2.Value()
    instance.struct_value.update({"prompt": "What is a GPU?", "max_tokens": 16})
    res = pred.predict(endpoint=ep.name, instances=[instance])
    assert res.predictions[0].startswith("Prompt:\nWhat is a GPU?\nOutput:\n") and res.deployed_model_id == dm.id
    assert res.model_display_name == "llama-model" and res.model_version_id == "1"
    assert standin.backend.requests[-1][1:] == ("/generate", {"instances": [{"prompt": "What is a GPU?", "max_tokens": 16}]})
    standin.faults.predict_output("")
    assert pred.predict(endpoint=ep.name, instances=[instance]).predictions[0].endswith("Output:\n")
    standin.faults.predict_output(None)
    body = json.dumps({"instances": [{"prompt": "hi", "raw_response": True}]}).encode()
    raw = pred.raw_predict(endpoint=ep.name, http_body=httpbody_pb2.HttpBody(data=body, content_type="application/json"))
    # the real API answers rawPredict with the container's raw bytes; the REST GAPIC client parses them as
    # an HttpBody JSON message, so the body is lost (data == b""): read rawPredict with a plain HTTP call.
    assert raw.data == b""
    assert standin.backend.requests[-1][2] == {"instances": [{"prompt": "hi", "raw_response": True}]}
    plain = requests.post(f"{standin.url}/v1/{ep.name}:rawPredict", data=body, headers={"Content-Type": "application/json"})
    assert plain.json() == {"predictions": [" You said: hi"]}


def test_chat_completions_shared_and_dedicated(standin, models, endpoints):
    import openai

    _, shared, _ = _deploy(models, endpoints)
    _, dedicated, _ = _deploy(models, endpoints, dedicated=True)
    assert dedicated.dedicated_endpoint_dns == standin.dedicated_dns
    msgs = [{"role": "user", "content": "Say hi"}]
    client = openai.OpenAI(base_url=f"{standin.url}/v1beta1/{shared.name}", api_key="token", max_retries=0)
    answer = client.chat.completions.create(model="", messages=msgs)
    assert answer.choices[0].message.content == "You said: Say hi"
    assert standin.backend.requests[-1][2]["@requestFormat"] == "chatCompletions"
    with pytest.raises(openai.BadRequestError, match="Streaming is not supported"):
        client.chat.completions.create(model="", messages=msgs, stream=True)
    wrong = openai.OpenAI(base_url=f"{standin.url}/v1beta1/{dedicated.name}", api_key="token", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="dedicated DNS"):
        wrong.chat.completions.create(model="", messages=msgs)
    ded = openai.OpenAI(base_url=f"http://{dedicated.dedicated_endpoint_dns}/v1beta1/{dedicated.name}", api_key="t", max_retries=0)
    assert ded.chat.completions.create(model="", messages=msgs).choices[0].message.content == "You said: Say hi"
    text = "".join(c.choices[0].delta.content or "" for c in ded.chat.completions.create(model="", messages=msgs, stream=True) if c.choices)
    assert text.strip() == "You said: Say hi"
    standin.faults.predict_output("")
    assert ded.chat.completions.create(model="", messages=msgs).choices[0].message.content == ""
    # predict on a dedicated endpoint: refused on the shared host, served on its DNS
    instance = struct_pb2.Value()
    instance.struct_value.update({"prompt": "x"})
    with pytest.raises(exc.BadRequest, match="dedicated DNS"):
        v1.PredictionServiceClient(**_opts(standin.url)).predict(endpoint=dedicated.name, instances=[instance])
    standin.faults.predict_output(None)
    ded_pred = v1.PredictionServiceClient(**_opts(f"http://{dedicated.dedicated_endpoint_dns}"))
    assert ded_pred.predict(endpoint=dedicated.name, instances=[instance]).predictions[0].startswith("Prompt:\nx")
    with pytest.raises(exc.NotFound):
        ded_pred.predict(endpoint=shared.name, instances=[instance])


def test_chat_fault_and_auth(standin, models, endpoints):
    import openai

    _, ep, _ = _deploy(models, endpoints)
    standin.faults.add("chat", status=429, times=1)
    client = openai.OpenAI(base_url=f"{standin.url}/v1beta1/{ep.name}", api_key="token", max_retries=1)
    assert client.chat.completions.create(model="", messages=[{"role": "user", "content": "a"}]).choices
    anonymous = requests.post(f"{standin.url}/v1beta1/{ep.name}/chat/completions", json={"messages": []})
    assert anonymous.status_code == 401


def test_quota_info(standin):
    from google.cloud import cloudquotas_v1

    standin.set_quota("CustomModelServingL4GPUsPerProjectPerRegion", 8, region="us-central1")
    standin.set_quota("CustomModelServingL4GPUsPerProjectPerRegion", 1)
    client = cloudquotas_v1.CloudQuotasClient(**_opts(standin.url))
    name = f"projects/{P}/locations/global/services/aiplatform.googleapis.com/quotaInfos/CustomModelServingL4GPUsPerProjectPerRegion"
    info = client.get_quota_info(name=name)
    by_region = {dict(d.dimensions).get("region"): d for d in info.dimensions_infos}
    assert by_region["us-central1"].details.value == 8 and list(by_region["us-central1"].applicable_locations) == ["us-central1"]
    assert by_region[None].details.value == 1 and "europe-west4" in by_region[None].applicable_locations
    with pytest.raises(exc.NotFound):
        client.get_quota_info(name=name.replace("L4", "H100"))
    standin.faults.add("quota", status=503)  # the client's default retry covers 503
    assert client.get_quota_info(name=name).quota_id == "CustomModelServingL4GPUsPerProjectPerRegion"
    assert sum("quotaInfos" in p for _, p, _ in standin.requests) == 4
    standin.faults.add("quota", status=429)
    with pytest.raises(exc.TooManyRequests):
        client.get_quota_info(name=name, retry=None)


def test_secret_access(standin):
    from google.cloud import secretmanager

    standin.add_secret("hf-token", "hf_old")
    standin.add_secret(f"projects/{P}/secrets/hf-token", "hf_SECRET")
    client = secretmanager.SecretManagerServiceClient(**_opts(standin.url))
    res = client.access_secret_version(name=f"projects/{P}/secrets/hf-token/versions/latest")
    assert res.payload.data == b"hf_SECRET" and res.payload.data_crc32c
    assert res.name == f"projects/{project_number(P)}/secrets/hf-token/versions/1"
    assert client.access_secret_version(name="projects/other/secrets/hf-token/versions/1").payload.data == b"hf_old"
    with pytest.raises(exc.NotFound):
        client.access_secret_version(name=f"projects/{P}/secrets/missing/versions/latest")
    assert not any("hf_SECRET" in path + body for _, path, body in standin.requests)


def test_discovery_validates_responses():
    op = {"name": "projects/1/locations/l/operations/2", "done": True, "response": {
        "@type": "type.googleapis.com/google.cloud.aiplatform.v1.UploadModelResponse", "model": "m", "modelVersionId": "1"}}
    discovery.validate("aiplatform.v1", "GoogleLongrunningOperation", op, response=True)
    op["response"]["extra"] = 1
    with pytest.raises(discovery.ValidationError, match="extra"):
        discovery.validate("aiplatform.v1", "GoogleLongrunningOperation", op, response=True)
    m = discovery.match("POST", "v1/projects/p/locations/l/endpoints/5:deployModel")
    body = {"deployedModel": {"dedicatedResources": {"machineSpec": {"acceleratorType": 11}}}}
    normalized = discovery.validate(m.doc, m.method["request"], body)
    assert normalized["deployedModel"]["dedicatedResources"]["machineSpec"]["acceleratorType"] in (11, "NVIDIA_L4")
    assert base64.b64decode("aGk=") == b"hi"
