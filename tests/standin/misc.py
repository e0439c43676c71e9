"""Cloud Quotas ``quotaInfos.get`` and Secret Manager ``versions.access``."""

from __future__ import annotations

import base64
import datetime
import re

from .state import GoogleError, now, project_number

REGIONS = ["us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1", "us-west4", "northamerica-northeast1",
           "europe-west1", "europe-west2", "europe-west3", "europe-west4", "europe-west9", "asia-east1", "asia-northeast1",
           "asia-northeast3", "asia-south1", "asia-southeast1", "australia-southeast1", "me-west1", "southamerica-east1"]


def _crc32c(data: bytes) -> int:
    try:
        import google_crc32c

        return google_crc32c.value(data)
    except ImportError:  # pragma: no cover - pure Python fallback
        crc = 0xFFFFFFFF
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
        return crc ^ 0xFFFFFFFF


def get_quota_info(st, req) -> dict:
    project, location = req.param("projectsId"), req.param("locationsId")
    service, quota_id = req.param("servicesId"), req.param("quotaInfosId")
    if location != "global":
        raise GoogleError(400, f"Location {location} is not supported; quota infos live under locations/global.")
    name = f"projects/{project_number(project)}/locations/global/services/{service}/quotaInfos/{quota_id}"
    with st.state.lock:
        limits = dict(st.state.quotas.get(quota_id, {}))
    if not limits:
        raise GoogleError(404, f"QuotaInfo {name} not found (the stand-in only knows quotas set with set_quota).")
    explicit = [r for r in limits if r]
    infos = [{"dimensions": {"region": r}, "details": {"value": str(v)}, "applicableLocations": [r]}
             for r, v in sorted((r, v) for r, v in limits.items() if r)]
    if None in limits:
        infos.append({"details": {"value": str(limits[None])}, "applicableLocations": [r for r in REGIONS if r not in explicit]})
    metric = re.sub(r"(?<!^)([A-Z])", r"_\1", quota_id.replace("PerProjectPerRegion", "")).lower()
    return {
        "name": name, "quotaId": quota_id, "metric": f"{service}/{metric}", "service": service, "isPrecise": True,
        "containerType": "PROJECT", "dimensions": ["region"], "quotaDisplayName": quota_id,
        "metricDisplayName": metric, "metricUnit": "1", "refreshInterval": "minute",
        "quotaIncreaseEligibility": {"isEligible": True}, "dimensionsInfos": infos,
    }


def add_secret(st, name: str, value: str | bytes) -> str:
    m = re.fullmatch(r"(?:projects/([^/]+)/(?:locations/[^/]+/)?secrets/)?([^/]+)", name)
    if not m:
        raise ValueError(f"secret name must be S or projects/P/secrets/S, got {name!r}")
    key = (project_number(m.group(1)) if m.group(1) else None, m.group(2))
    data = value.encode() if isinstance(value, str) else bytes(value)
    with st.state.lock:
        versions = st.state.secrets.setdefault(key, [])
        versions.append(data)
        return f"projects/{key[0] or 'PROJECT'}/secrets/{key[1]}/versions/{len(versions)}"


def set_secret_state(st, name: str, version: int, state: str) -> None:
    """Marks version ``version`` of secret ``name`` ENABLED, DISABLED or DESTROYED."""
    m = re.fullmatch(r"(?:projects/([^/]+)/(?:locations/[^/]+/)?secrets/)?([^/]+)", name)
    key = (project_number(m.group(1)) if m.group(1) else None, m.group(2), int(version))
    with st.state.lock:
        st.state.secret_states[key] = state


def access_secret_version(st, req) -> dict:
    number, secret, version = project_number(req.param("projectsId")), req.param("secretsId"), req.param("versionsId")
    with st.state.lock:
        versions = st.state.secrets.get((number, secret)) or st.state.secrets.get((None, secret))
    base = f"projects/{number}/secrets/{secret}"
    if not versions:
        raise GoogleError(404, f"Secret [{base}] not found or has no versions.")
    index = len(versions) if version == "latest" else int(version) if version.isdigit() else 0
    if not 1 <= index <= len(versions):
        raise GoogleError(404, f"Secret Version [{base}/versions/{version}] not found.")
    data = versions[index - 1]
    with st.state.lock:
        state = st.state.secret_states.get((number, secret, index)) or st.state.secret_states.get((None, secret, index))
    if state in ("DISABLED", "DESTROYED"):  # what Secret Manager answers; "latest" is the newest version whatever its state
        raise GoogleError(400, f"Secret Version [{base}/versions/{index}] is in {state} state.", "FAILED_PRECONDITION")
    return {"name": f"{base}/versions/{index}",
            "payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(_crc32c(data))}}


ROUTES = {
    "cloudquotas.projects.locations.services.quotaInfos.get": get_quota_info,
    "secretmanager.projects.secrets.versions.access": access_secret_version,
    "secretmanager.projects.locations.secrets.versions.access": access_secret_version,
}


def write_log(st, endpoint_id: str, text: str, severity: str = "ERROR") -> None:
    """A container log line of one endpoint, as Vertex writes it to Cloud Logging."""
    resource = {"type": "aiplatform.googleapis.com/Endpoint", "labels": {"endpoint_id": endpoint_id}}
    _append_log(st, "projects/PROJECT/logs/aiplatform.googleapis.com%2Fprediction_container", resource, text, severity)


def write_task_log(st, custom_job: str, text: str, severity: str = "INFO") -> None:
    """A log line of a pipeline task, as Vertex writes it: the resource is the task's CustomJob (``ml_job``)."""
    project = custom_job.split("/")[1]
    labels = {"job_id": custom_job.rsplit("/", 1)[-1], "project_id": project, "task_name": "workerpool0-0"}
    _append_log(st, f"projects/{project}/logs/workerpool0-0", {"type": "ml_job", "labels": labels}, text, severity)


def _append_log(st, log_name: str, resource: dict, text: str, severity: str) -> None:
    with st.state.lock:
        st.state.logs.append({"logName": log_name, "resource": resource, "textPayload": text, "severity": severity,
                              "timestamp": now(), "insertId": str(len(st.state.logs) + 1)})


def _instant(rfc3339: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))


def list_log_entries(st, req) -> dict:
    """``entries:list`` honouring the resource type, resource label and timestamp clauses of the filter and the order."""
    body = req.json
    flt = body.get("filter", "")
    kind = re.search(r'resource\.type="([^"]+)"', flt)
    wanted: dict[str, set[str]] = {}  # label → values, any of them (clauses joined by OR)
    for key, value in re.findall(r'resource\.labels\.([a-z_]+)="([^"]+)"', flt):
        wanted.setdefault(key, set()).add(value)
    since = re.search(r'timestamp>="([^"]+)"', flt)
    with st.state.lock:
        entries = [
            e for e in st.state.logs
            if (not kind or e["resource"]["type"] == kind[1])
            and all(e["resource"]["labels"].get(k) in values for k, values in wanted.items())
            and (not since or _instant(e["timestamp"]) >= _instant(since[1]))
        ]
    if "desc" in body.get("orderBy", ""):
        entries = entries[::-1]
    size = int(body.get("pageSize") or 1000)
    return {"entries": entries[:size]} if entries else {}


ROUTES["logging.entries.list"] = list_log_entries
