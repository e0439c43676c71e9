"""Vertex AI ModelService and EndpointService routes (models, endpoints, deploy, operations)."""

from __future__ import annotations

import re
import time
import urllib.request

from . import misc
from .state import GoogleError, now, project_number

_AI = "aiplatform.projects.locations."
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
# machine family prefix → accelerator types it takes (real API refuses other pairs)
_MACHINE_ACCELERATORS = {
    "g2-": {"NVIDIA_L4"}, "a2-highgpu-": {"NVIDIA_TESLA_A100"}, "a2-ultragpu-": {"NVIDIA_A100_80GB"},
    "a3-highgpu-": {"NVIDIA_H100_80GB"}, "a3-megagpu-": {"NVIDIA_H100_MEGA_80GB"}, "a3-ultragpu-": {"NVIDIA_H200_141GB"},
    "n1-": {"NVIDIA_TESLA_T4", "NVIDIA_TESLA_V100", "NVIDIA_TESLA_P100", "NVIDIA_TESLA_P4"},
}


def parent(req) -> str:
    return f"projects/{project_number(req.param('projectsId'))}/locations/{req.param('locationsId')}"


def type_prefix(req) -> str:
    return f"type.googleapis.com/google.cloud.aiplatform.{req.version}"


def _labels(labels: dict | None) -> None:
    for k, v in (labels or {}).items():
        if not _LABEL_KEY.match(k) or not _LABEL_VALUE.match(str(v)):
            raise GoogleError(400, f"Invalid label: {k}={v!r}. Label keys and values can be no longer than 63 characters, can only "
                              "contain lowercase letters, numeric characters, underscores and dashes; keys must start with a letter.")


def _required(value, field: str) -> None:
    if not value:
        raise GoogleError(400, f"List of found errors:\t1.Field: {field}; Message: Required field is not set.\t")


def _filter(expr: str):
    """Vertex list filters: ``labels.k="v"``, ``labels.k=v``, ``labels.k!=v``, ``labels.k:*``, ``display_name="x"``, AND."""
    checks = []
    for term in [t for t in re.split(r"\s+AND\s+", expr.strip()) if t]:
        m = re.fullmatch(r'labels\.("?)([^"=:!\s]+)\1\s*(=|!=)\s*(?:"([^"]*)"|([^"\s]+))', term)
        if m:
            key, op, val = m.group(2), m.group(3), m.group(4) if m.group(4) is not None else m.group(5)
            checks.append(lambda r, k=key, o=op, v=val: (r.get("labels", {}).get(k) == v) == (o == "="))
            continue
        m = re.fullmatch(r'labels\.("?)([^"=:!\s]+)\1\s*:\s*\*', term) or re.fullmatch(r"labels\s*:\s*(\")?([^\"\s]+)\1", term)
        if m:
            checks.append(lambda r, k=m.group(2): k in r.get("labels", {}))
            continue
        m = re.fullmatch(r'(?:display_name|displayName)\s*(=|!=)\s*"([^"]*)"', term)
        if m:
            checks.append(lambda r, o=m.group(1), v=m.group(2): (r.get("displayName") == v) == (o == "="))
            continue
        raise GoogleError(400, f'Provided filter is not supported: "{term}".')
    return lambda r: all(c(r) for c in checks)


def _list(st, req, collection: str, key: str) -> dict:
    match = _filter(req.query.get("filter", ""))
    prefix = parent(req) + f"/{collection}/"
    with st.state.lock:
        items = [r for n, r in getattr(st.state, collection).items() if n.startswith(prefix) and match(r)]
    start = int(req.query.get("pageToken") or 0)
    size = int(req.query.get("pageSize") or 0) or len(items) or 1
    out = {key: items[start:start + size]} if items[start:start + size] else {}
    if start + size < len(items):
        out["nextPageToken"] = str(start + size)
    return out


def _model(st, req) -> tuple[str, dict]:
    model_id, _, version = req.param("modelsId").partition("@")
    name = f"{parent(req)}/models/{model_id}"
    with st.state.lock:
        model = st.state.models.get(name)
    if model is None or version not in ("", "1", "default"):
        raise GoogleError(404, f"Model {name}{'@' + version if version else ''} not found.")
    return name, model


def _canonical_model(name: str) -> str:
    m = re.fullmatch(r"projects/([^/]+)/locations/([^/]+)/models/([^/@]+)(?:@(.+))?", name or "")
    if not m:
        raise GoogleError(400, f"Invalid Model resource name: {name!r}.")
    return f"projects/{project_number(m.group(1))}/locations/{m.group(2)}/models/{m.group(3)}"


def upload_model(st, req) -> dict:
    body = req.json
    model = dict(body.get("model") or {})
    _required(model.get("displayName"), "model.display_name")
    spec = model.get("containerSpec") or {}
    if not model.get("artifactUri") or spec:
        _required(spec.get("imageUri"), "model.container_spec.image_uri")
    _labels(model.get("labels"))
    if body.get("parentModel"):
        raise GoogleError(501, "The stand-in does not implement model versions (parent_model).")
    model_id = body.get("modelId") or st.state.new_id()
    name = f"{parent(req)}/models/{model_id}"
    ts = now()
    resource = {**model, "name": name, "versionId": "1", "versionAliases": ["default"], "createTime": ts,
                "updateTime": ts, "versionCreateTime": ts, "versionUpdateTime": ts, "etag": f"AMEw9yP{model_id[-6:]}",
                "supportedDeploymentResourcesTypes": ["DEDICATED_RESOURCES", "SHARED_RESOURCES"],
                "modelSourceInfo": {"sourceType": "CUSTOM"}}
    with st.state.lock:
        if name in st.state.models:
            raise GoogleError(409, f"Model {name} already exists.")
        st.state.models[name] = resource
    op = st.state.new_operation(name, type_prefix(req), "UploadModelOperationMetadata")
    st.state.finish(op, {"@type": f"{type_prefix(req)}.UploadModelResponse", "model": name, "modelVersionId": "1"})
    return op.render(initial=True)


def get_model(st, req) -> dict:
    return _model(st, req)[1]


def delete_model(st, req) -> dict:
    name, model = _model(st, req)
    with st.state.lock:
        users = sorted({d["endpoint"] for d in st.state.deployed.values() if d["model"] == name})
        if users:
            raise GoogleError(400, f"Model {name} is deployed or being deployed at the following Endpoint(s): {', '.join(users)}.", "FAILED_PRECONDITION")
        del st.state.models[name]
    op = st.state.new_operation(parent(req), type_prefix(req), "DeleteOperationMetadata")
    st.state.finish(op)
    return op.render(initial=True)


def _endpoint(st, req) -> tuple[str, dict]:
    name = f"{parent(req)}/endpoints/{req.param('endpointsId')}"
    with st.state.lock:
        ep = st.state.endpoints.get(name)
    if ep is None:
        raise GoogleError(404, f"Endpoint `{name}` not found.")
    return name, ep


def create_endpoint(st, req) -> dict:
    body = dict(req.json)
    _required(body.get("displayName"), "endpoint.display_name")
    _labels(body.get("labels"))
    for out_only in ("name", "deployedModels", "createTime", "updateTime", "dedicatedEndpointDns"):
        body.pop(out_only, None)
    ep_id = req.query.get("endpointId") or st.state.new_id()
    name = f"{parent(req)}/endpoints/{ep_id}"
    ts = now()
    ep = {**body, "name": name, "createTime": ts, "updateTime": ts, "etag": f"AMEw9yN{ep_id[-6:]}"}
    if body.get("dedicatedEndpointEnabled"):
        ep["dedicatedEndpointDns"] = st.dedicated_dns
    with st.state.lock:
        if name in st.state.endpoints:
            raise GoogleError(409, f"Endpoint {name} already exists.")
        st.state.endpoints[name] = ep
    op = st.state.new_operation(name, type_prefix(req), "CreateEndpointOperationMetadata")
    st.state.finish(op, {"@type": f"{type_prefix(req)}.Endpoint", **ep})
    return op.render(initial=True)


def get_endpoint(st, req) -> dict:
    return _endpoint_view(req, _endpoint(st, req)[1])


def delete_endpoint(st, req) -> dict:
    name, ep = _endpoint(st, req)
    with st.state.lock:
        busy = [i for i, d in st.state.deployed.items() if d["endpoint"] == name]
        if busy:
            raise GoogleError(400, f"Endpoint {name} has deployed or being deployed DeployedModel(s): {', '.join(busy)}. "
                              "Undeploy all models before deleting the endpoint.", "FAILED_PRECONDITION")
        del st.state.endpoints[name]
    op = st.state.new_operation(parent(req), type_prefix(req), "DeleteOperationMetadata")
    st.state.finish(op)
    return op.render(initial=True)


def _check_resources(res: dict | None) -> dict:
    if not res:
        raise GoogleError(400, "Model does not support AutomaticResources: `dedicated_resources` is required.")
    spec = res.get("machineSpec") or {}
    _required(spec.get("machineType"), "deployed_model.dedicated_resources.machine_spec.machine_type")
    machine, accel = spec["machineType"], spec.get("acceleratorType")
    if accel and accel != "ACCELERATOR_TYPE_UNSPECIFIED":
        family = next((f for f in _MACHINE_ACCELERATORS if machine.startswith(f)), None)
        if family and accel not in _MACHINE_ACCELERATORS[family]:
            raise GoogleError(400, f"Machine type {machine} is not supported with accelerator {accel}.")
        if int(spec.get("acceleratorCount") or 0) < 1:
            raise GoogleError(400, "accelerator_count must be at least 1 when accelerator_type is set.")
    low, high = int(res.get("minReplicaCount") or 0), int(res.get("maxReplicaCount") or 0)
    if low < 1:
        raise GoogleError(400, "DedicatedResources.min_replica_count must be at least 1.")
    if high and high < low:
        raise GoogleError(400, "DedicatedResources.max_replica_count must be greater than or equal to min_replica_count.")
    _check_capacity(res, spec)
    return {**res, "minReplicaCount": low, "maxReplicaCount": high or low}


_RESERVATION_KEY = "compute.googleapis.com/reservation-name"


def _check_capacity(res: dict, spec: dict) -> None:
    """Reservation affinity, required replicas and flex-start as the field descriptions of the discovery documents
    and Vertex's pages state them; the stand-in's own wording (Vertex's exact texts for these were not found)."""
    affinity = spec.get("reservationAffinity")
    if affinity is not None:
        kind, key, values = affinity.get("reservationAffinityType"), affinity.get("key"), affinity.get("values") or []
        if kind in (None, "TYPE_UNSPECIFIED"):
            raise GoogleError(400, "reservation_affinity.reservation_affinity_type is required.")
        if kind == "SPECIFIC_RESERVATION" and (key != _RESERVATION_KEY or not values):
            raise GoogleError(400, f"SPECIFIC_RESERVATION needs reservation_affinity.key {_RESERVATION_KEY!r} and the "
                                   "reservation's resource name in values.")
        if kind != "SPECIFIC_RESERVATION" and (key or values):
            raise GoogleError(400, f"reservation_affinity.key and values are only for SPECIFIC_RESERVATION, not {kind}.")
        if kind == "SPECIFIC_RESERVATION" and res.get("spot"):
            raise GoogleError(400, "Spot VMs cannot consume a reservation.")
    required = int(res.get("requiredReplicaCount") or 0)
    if required < 0 or required > int(res.get("minReplicaCount") or 0):
        raise GoogleError(400, "DedicatedResources.required_replica_count must be between 0 and min_replica_count.")
    flex = res.get("flexStart")
    if flex is not None:
        seconds = float(str(flex.get("maxRuntimeDuration") or "0s").rstrip("s"))
        if not 0 < seconds <= 7 * 24 * 3600:  # "Any deployment request for a longer duration will be rejected."
            raise GoogleError(400, "flex_start.max_runtime_duration must be more than 0 and at most 7 days.")
        if res.get("spot"):
            raise GoogleError(400, "flex_start and spot cannot be used together.")


def _missing_reservation(st, resources: dict) -> str:
    """The reservation a SPECIFIC_RESERVATION names that does not exist ("" when it does, or when any name is taken)."""
    affinity = (resources.get("machineSpec") or {}).get("reservationAffinity") or {}
    with st.state.lock:
        known = st.state.reservations
    if known is None or affinity.get("reservationAffinityType") != "SPECIFIC_RESERVATION":
        return ""
    return next((v for v in affinity.get("values", []) if v not in known), "")


def _in_version(doc: str, schema: str, value):
    """``value`` as API version ``doc`` shows it: fields that version does not have (v1beta1's ``flexStart`` read
    through v1) are left out, as a GAPIC client of that version would never see them."""
    props = _schema_props(doc, schema)
    if props is None:
        return value
    if isinstance(value, list):
        return [_in_version(doc, schema, v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        prop = props.get(key)
        if prop is None:
            continue
        ref = prop.get("$ref") or (prop.get("items") or {}).get("$ref")
        out[key] = _in_version(doc, ref, item) if ref else item
    return out


def _schema_props(doc: str, schema: str | None) -> dict | None:
    from . import discovery

    found = discovery.load(doc)["schemas"].get(schema or "")
    return found.get("properties") if found and found.get("type") == "object" else None


def _list_endpoints(st, req) -> dict:
    out = _list(st, req, "endpoints", "endpoints")
    if "endpoints" in out:
        out["endpoints"] = [_endpoint_view(req, ep) for ep in out["endpoints"]]
    return out


def _endpoint_view(req, ep: dict) -> dict:
    if req.version != "v1":
        return ep
    return _in_version("aiplatform.v1", "GoogleCloudAiplatformV1Endpoint", ep)


# Vertex's answer to a deploy when the region has no free machines of the shape (RESOURCE_EXHAUSTED).
STOCKOUT = "Machine type temporarily unavailable, please deploy with a different machine type or retry."


def deploy_model(st, req) -> dict:
    ep_name, _ = _endpoint(st, req)
    dm_in = dict(req.json.get("deployedModel") or {})
    model_name = _canonical_model(dm_in.get("model", ""))
    with st.state.lock:
        model = st.state.models.get(model_name)
    if model is None:
        raise GoogleError(404, f"Model {model_name} not found.")
    resources = _check_resources(dm_in.get("dedicatedResources"))
    split = {k: int(v) for k, v in (req.json.get("trafficSplit") or {}).items()}
    if split and sum(split.values()) != 100:
        raise GoogleError(400, "The sum of all traffic split values must be 100.")
    dm_id = dm_in.get("id") or st.state.new_id()
    ts = now()
    dm = {**dm_in, "id": dm_id, "model": model_name, "modelVersionId": "1", "createTime": ts, "dedicatedResources": resources,
          "displayName": dm_in.get("displayName") or model.get("displayName", "")}
    with st.state.lock:
        st.state.deployed[dm_id] = {"endpoint": ep_name, "model": model_name, "url": None, "state": "deploying"}
    op = st.state.new_operation(ep_name, type_prefix(req), "DeployModelOperationMetadata", deploymentStage="STARTING_DEPLOYMENT")
    op.deployed_model_id = dm_id  # what a cancel undoes
    missing = _missing_reservation(st, resources)
    if missing:  # Compute Engine's not-found wording; Vertex's own text for this case was not found
        _fail_deploy(st, op, dm_id, 5, f"The resource '{missing}' was not found")
        return op.render(initial=True)
    st.spawn(_run_deploy, st, req.version, op, dm, model, split)
    return op.render(initial=True)


def _fail_deploy(st, op, dm_id: str, code: int, message: str) -> None:
    with st.state.lock:
        st.state.deployed.pop(dm_id, None)
    st.state.finish(op, error={"code": code, "message": message}, deploymentStage="FAILED_TO_DEPLOY")


def _run_deploy(st, version: str, op, dm: dict, model: dict, split: dict) -> None:
    spec = dm["dedicatedResources"].get("machineSpec") or {}
    if st.faults.stocked_out(op.name.split("/")[3], spec.get("machineType", ""), bool(dm["dedicatedResources"].get("spot"))):
        fault = {"kind": "error", "code": 8, "message": STOCKOUT}  # a queued fault waits for a deploy that finds GPUs
    else:
        fault = st.faults.next_deploy()
    if fault and fault["kind"] == "hang":
        return
    if fault:
        ep_id = op.name.split("/endpoints/", 1)[1].split("/", 1)[0]
        for line in (fault.get("log") or "").splitlines():
            misc.write_log(st, ep_id, line)
        return _fail_deploy(st, op, dm["id"], fault["code"], fault["message"])
    op.metadata["deploymentStage"] = "STARTING_MODEL_SERVER"
    try:
        url = st.backend.start(dm["id"], model, dm["dedicatedResources"])
        _wait_healthy(st, url, model)
    except Exception as e:  # noqa: BLE001 - the operation carries the container's failure
        try:
            st.backend.stop(dm["id"])
        except Exception:  # noqa: BLE001
            pass
        return _fail_deploy(st, op, dm["id"], 3, str(e))
    dm["status"] = {"availableReplicaCount": dm["dedicatedResources"]["minReplicaCount"], "lastUpdateTime": now()}
    with st.state.lock:
        if op.finished:  # cancelled while the container started
            st.backend.stop(dm["id"])
            return None
        ep = st.state.endpoints.get(st.state.deployed[dm["id"]]["endpoint"])
        if ep is None:
            st.backend.stop(dm["id"])
            return _fail_deploy(st, op, dm["id"], 5, "The endpoint was deleted during deployment.")
        ep.setdefault("deployedModels", []).append(dm)
        old = ep.get("trafficSplit", {})
        new = {(dm["id"] if k == "0" else k): v for k, v in split.items()} if split else (old or {dm["id"]: 100})
        ep["trafficSplit"] = {k: v for k, v in new.items() if v}
        ep["updateTime"] = now()
        model.setdefault("deployedModels", []).append({"endpoint": ep["name"], "deployedModelId": dm["id"]})
        st.state.deployed[dm["id"]].update(url=url, state="deployed")
    st.state.finish(op, {"@type": f"type.googleapis.com/google.cloud.aiplatform.{version}.DeployModelResponse", "deployedModel": dm},
                    deploymentStage=st.faults.deploy_stage or "SUCCESSFULLY_DEPLOYED")


def _wait_healthy(st, url: str, model: dict) -> None:
    spec = model.get("containerSpec") or {}
    route = spec.get("healthRoute") or "/health"
    limit = st.health_timeout
    if spec.get("deploymentTimeout"):
        limit = min(limit, float(spec["deploymentTimeout"].rstrip("s")))
    deadline, last = time.monotonic() + limit, ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url.rstrip("/") + route, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError as e:
            last = str(e)
        time.sleep(0.05)
    raise RuntimeError(f"Model server never became ready (health check {route} failed for {limit:.0f} s: {last}). "
                       "Please validate that your model file or container configuration are valid.")


def undeploy_model(st, req) -> dict:
    ep_name, ep = _endpoint(st, req)
    dm_id = req.json.get("deployedModelId", "")
    _required(dm_id, "deployed_model_id")
    with st.state.lock:
        if not any(d["id"] == dm_id for d in ep.get("deployedModels", [])):
            raise GoogleError(404, f"Deployed model {dm_id} not found on endpoint {ep_name}.")
        st.state.deployed[dm_id]["state"] = "undeploying"
    op = st.state.new_operation(ep_name, type_prefix(req), "UndeployModelOperationMetadata")
    split = {k: int(v) for k, v in (req.json.get("trafficSplit") or {}).items()}
    st.spawn(_run_undeploy, st, req.version, op, ep, dm_id, split)
    return op.render(initial=True)


def _run_undeploy(st, version: str, op, ep: dict, dm_id: str, split: dict) -> None:
    try:
        st.backend.stop(dm_id)
    finally:
        with st.state.lock:
            ep["deployedModels"] = [d for d in ep.get("deployedModels", []) if d["id"] != dm_id]
            rest = {k: v for k, v in ep.get("trafficSplit", {}).items() if k != dm_id}
            if not split and rest and sum(rest.values()) != 100:
                total = sum(rest.values()) or len(rest)
                rest = {k: round(100 * (v or 1) / total) for k, v in rest.items()}
            ep["trafficSplit"] = {k: v for k, v in (split or rest).items() if v}
            if not ep["deployedModels"]:
                ep.pop("deployedModels")
            if not ep["trafficSplit"]:
                ep.pop("trafficSplit")
            record = st.state.deployed.pop(dm_id, {})
            model = st.state.models.get(record.get("model", ""))
            if model:
                model["deployedModels"] = [d for d in model.get("deployedModels", []) if d["deployedModelId"] != dm_id]
                if not model["deployedModels"]:
                    model.pop("deployedModels")
        st.state.finish(op, {"@type": f"type.googleapis.com/google.cloud.aiplatform.{version}.UndeployModelResponse"})


def cancel_operation(st, req) -> dict:
    """Cancels an unfinished operation; a cancelled deploy leaves no deployed model behind."""
    op_id = req.param("operationsId")
    with st.state.lock:
        op = st.state.operations.get(op_id)
        if op is None:
            raise GoogleError(404, f"Operation {req.path} not found.")
        if op.finished:
            return {}
        dm_id = getattr(op, "deployed_model_id", None)
        record = st.state.deployed.pop(dm_id, None) if dm_id else None
    if record and record.get("url"):
        st.backend.stop(dm_id)
    st.state.finish(op, error={"code": 1, "message": "Operation cancelled."}, deploymentStage="FAILED_TO_DEPLOY")
    return {}


def list_endpoint_operations(st, req) -> dict:
    """The endpoint's operations, newest last (``done`` ones included, like the real API)."""
    number = project_number(req.param("projectsId"))
    prefix = f"projects/{number}/locations/{req.param('locationsId')}/endpoints/{req.param('endpointsId')}/operations/"
    with st.state.lock:
        ops = [op.render() for op in st.state.operations.values() if op.name.startswith(prefix)]
    return {"operations": ops} if ops else {}


def get_operation(st, req) -> dict:
    op_id = req.param("operationsId")
    with st.state.lock:
        op = st.state.operations.get(op_id)
        if op is None:
            raise GoogleError(404, f"Operation {req.path} not found.")
        return op.render()


ROUTES = {
    _AI + "models.upload": upload_model,
    _AI + "models.get": get_model,
    _AI + "models.list": lambda st, req: _list(st, req, "models", "models"),
    _AI + "models.delete": delete_model,
    _AI + "endpoints.create": create_endpoint,
    _AI + "endpoints.get": get_endpoint,
    _AI + "endpoints.list": lambda st, req: _list_endpoints(st, req),
    _AI + "endpoints.delete": delete_endpoint,
    _AI + "endpoints.deployModel": deploy_model,
    _AI + "endpoints.undeployModel": undeploy_model,
    _AI + "operations.get": get_operation,
    _AI + "endpoints.operations.get": get_operation,
    _AI + "endpoints.operations.cancel": cancel_operation,
    _AI + "endpoints.operations.list": list_endpoint_operations,
    _AI + "models.operations.get": get_operation,
}
