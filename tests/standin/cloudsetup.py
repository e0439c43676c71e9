"""Projects, APIs, IAM, buckets and secret IAM: what ``vllm-vertex doctor`` reads (and ``--fix`` writes).

Routes of ``serviceusage.v1``, ``cloudresourcemanager.v3``, ``iam.v1``, ``storage.v1`` and Secret
Manager's IAM/version methods, matched and body-checked against their discovery documents like the
rest of the stand-in. IAM is evaluated the way Google does for direct bindings: the caller (anonymous
credentials here, so ``CloudSetup.caller``) holds the union of the roles bound to it on the project
and on the resource; a role grants the permissions of ``ROLES`` (a subset of the real predefined
roles' ``includedPermissions``: the ones vllm-vertex needs, as the IAM docs list them).
Nothing is set up until a test says so: an unknown project answers 403 as Resource Manager does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field

from .state import GoogleError, now, project_number

__all__ = ["ROLES", "CloudSetup", "ROUTES"]

_AIPLATFORM_USE = {
    f"aiplatform.{kind}.{verb}"
    for kind, verbs in {
        "pipelineJobs": ("create", "get", "list", "cancel", "delete"),
        "schedules": ("create", "get", "list", "update", "delete"),
        "endpoints": ("create", "get", "list", "update", "delete", "deploy", "undeploy", "predict"),
        "models": ("upload", "get", "list", "update", "delete"),
        "operations": ("get", "list"),
        "metadataStores": ("get", "list"),
    }.items()
    for verb in verbs
} | {"resourcemanager.projects.get", "serviceusage.services.get", "serviceusage.services.list"}
_AIPLATFORM_VIEW = {p for p in _AIPLATFORM_USE if p.rsplit(".", 1)[1] in ("get", "list")}
_OBJECTS = {f"storage.objects.{v}" for v in ("create", "delete", "get", "list", "update")}
_BUCKETS = {f"storage.buckets.{v}" for v in ("create", "delete", "get", "list", "update", "getIamPolicy", "setIamPolicy")}

ROLES: dict[str, set[str]] = {
    "roles/aiplatform.user": _AIPLATFORM_USE,
    "roles/aiplatform.viewer": _AIPLATFORM_VIEW,
    "roles/iam.serviceAccountUser": {"iam.serviceAccounts.actAs", "iam.serviceAccounts.get", "iam.serviceAccounts.list"},
    "roles/iam.serviceAccountAdmin": {"iam.serviceAccounts.create", "iam.serviceAccounts.get", "iam.serviceAccounts.list",
                                      "iam.serviceAccounts.getIamPolicy", "iam.serviceAccounts.setIamPolicy"},
    "roles/iam.securityReviewer": {"resourcemanager.projects.getIamPolicy", "iam.serviceAccounts.getIamPolicy",
                                   "iam.roles.get", "storage.buckets.getIamPolicy", "secretmanager.secrets.getIamPolicy"},
    "roles/storage.objectUser": _OBJECTS,
    "roles/storage.objectAdmin": _OBJECTS | {"storage.objects.getIamPolicy", "storage.objects.setIamPolicy"},
    "roles/storage.objectViewer": {"storage.objects.get", "storage.objects.list"},
    "roles/storage.admin": _OBJECTS | _BUCKETS,
    "roles/secretmanager.secretAccessor": {"secretmanager.versions.access"},
    "roles/secretmanager.viewer": {"secretmanager.secrets.get", "secretmanager.versions.get", "secretmanager.versions.list"},
    "roles/secretmanager.admin": {"secretmanager.secrets.get", "secretmanager.versions.get", "secretmanager.versions.access",
                                  "secretmanager.secrets.getIamPolicy", "secretmanager.secrets.setIamPolicy"},
    "roles/resourcemanager.projectIamAdmin": {"resourcemanager.projects.get", "resourcemanager.projects.getIamPolicy",
                                              "resourcemanager.projects.setIamPolicy"},
    "roles/iam.roleViewer": {"iam.roles.get", "iam.roles.list"},
    "roles/logging.viewer": {"logging.logEntries.list"},
    "roles/cloudquotas.viewer": {"cloudquotas.quotas.get"},
    "roles/serviceusage.serviceUsageConsumer": {"serviceusage.services.use", "serviceusage.services.get",
                                                "serviceusage.services.list"},
    "roles/serviceusage.serviceUsageAdmin": {"serviceusage.services.enable", "serviceusage.services.use",
                                             "serviceusage.services.get", "serviceusage.services.list"},
}
ROLES["roles/owner"] = set().union(*ROLES.values()) | {"resourcemanager.projects.setIamPolicy",
                                                        "secretmanager.secrets.setIamPolicy"}
ROLES["roles/editor"] = {p for p in ROLES["roles/owner"] if not p.endswith(("setIamPolicy", "getIamPolicy"))}
ROLES["roles/viewer"] = {p for p in ROLES["roles/owner"] if p.rsplit(".", 1)[1] in ("get", "list")}

SERVICE_TITLES = {
    "aiplatform.googleapis.com": "Vertex AI API", "cloudquotas.googleapis.com": "Cloud Quotas API",
    "secretmanager.googleapis.com": "Secret Manager API", "logging.googleapis.com": "Cloud Logging API",
    "storage.googleapis.com": "Cloud Storage API", "iam.googleapis.com": "Identity and Access Management (IAM) API",
    "cloudresourcemanager.googleapis.com": "Cloud Resource Manager API",
    "serviceusage.googleapis.com": "Service Usage API", "compute.googleapis.com": "Compute Engine API",
}


@dataclass
class CloudSetup:
    """What exists and who may do what. Tests change it through the helpers, or directly under ``lock``."""

    caller: str = "user:dev@example.com"
    projects: dict = field(default_factory=dict)  # project id → {"number", "state"}
    services: dict = field(default_factory=dict)  # project id → set of enabled service names
    policies: dict = field(default_factory=dict)  # resource ("projects/P", "buckets/B", SA email, secret) → {role: set}
    service_accounts: dict = field(default_factory=dict)  # email → ServiceAccount JSON
    buckets: dict = field(default_factory=dict)  # name → Bucket JSON
    disabled_versions: set = field(default_factory=set)  # "projects/P/secrets/S/versions/N" that are DISABLED
    custom_roles: dict = field(default_factory=dict)  # "projects/P/roles/ID" → set of permissions
    operations: dict = field(default_factory=dict)  # Service Usage "operations/acat..." → the finished Operation JSON
    lock: threading.RLock = field(default_factory=threading.RLock)

    # set-up helpers
    def add_project(self, project: str, services: tuple[str, ...] = ()) -> None:
        with self.lock:
            self.projects[project] = {"number": project_number(project), "state": "ACTIVE"}
            self.services.setdefault(project, set()).update(services)

    def grant(self, resource: str, member: str, *roles: str) -> None:
        """Binds ``roles`` to ``member`` on ``resource`` ("projects/P", "buckets/B", an SA email, "projects/P/secrets/S")."""
        with self.lock:
            policy = self.policies.setdefault(resource, {})
            for role in roles:
                policy.setdefault(role, set()).add(member)

    def add_custom_role(self, project: str, role_id: str, permissions) -> str:
        """A project's custom role (``gcloud iam roles create ID --project P --file F``); returns its name."""
        name = f"projects/{project}/roles/{role_id}"
        with self.lock:
            self.custom_roles[name] = set(permissions)
        return name

    def revoke(self, resource: str, member: str, role: str) -> None:
        with self.lock:
            self.policies.get(resource, {}).get(role, set()).discard(member)

    def add_service_account(self, project: str, email: str) -> None:
        with self.lock:
            self.service_accounts[email] = _service_account(project, email, email.split("@", 1)[0])

    def add_bucket(self, project: str, name: str, location: str = "US-CENTRAL1") -> None:
        with self.lock:
            self.buckets[name] = _bucket(project, name, location)

    def permissions(self, member: str, *resources: str) -> set[str]:
        """What ``member`` may do on the last resource (roles on every given resource count)."""
        granted: set[str] = set()
        with self.lock:
            for resource in resources:
                for role, members in self.policies.get(resource, {}).items():
                    if member in members:
                        granted |= ROLES.get(role) or self.custom_roles.get(role, set())
        return granted


def _etag(policy: dict) -> str:
    digest = hashlib.sha256(json.dumps({r: sorted(m) for r, m in sorted(policy.items())}).encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _policy_json(policy: dict, version: int = 1) -> dict:
    bindings = [{"role": role, "members": sorted(members)} for role, members in sorted(policy.items()) if members]
    out = {"version": version, "etag": _etag(policy)}
    if bindings:
        out["bindings"] = bindings
    return out


def _set_policy(cloud: CloudSetup, resource: str, body: dict) -> dict:
    new = body.get("policy") or {}
    with cloud.lock:
        old = cloud.policies.get(resource, {})
        if new.get("etag") and new["etag"] != _etag(old):
            raise GoogleError(409, "There were concurrent policy changes. Please retry the whole read-modify-write "
                                   "with exponential backoff.", "ABORTED")
        cloud.policies[resource] = {b["role"]: set(b.get("members", [])) for b in new.get("bindings", [])}
        return _policy_json(cloud.policies[resource])


def _test(cloud: CloudSetup, requested: list[str], *resources: str) -> dict:
    granted = cloud.permissions(cloud.caller, *resources)
    allowed = [p for p in requested if p in granted]
    return {"permissions": allowed} if allowed else {}


def _project(cloud: CloudSetup, project: str) -> dict:
    with cloud.lock:
        found = cloud.projects.get(project) or next(
            (p for p in cloud.projects.values() if p["number"] == project), None)
    if found is None:
        raise GoogleError(403, f"The caller does not have permission (project {project} may not exist).")
    return found


def _project_id(cloud: CloudSetup, project: str) -> str:
    number = _project(cloud, project)["number"]
    with cloud.lock:
        return next(pid for pid, p in cloud.projects.items() if p["number"] == number)


def _require(cloud: CloudSetup, permission: str, *resources: str) -> None:
    if permission not in cloud.permissions(cloud.caller, *resources):
        raise GoogleError(403, f"Permission '{permission}' denied on resource '{resources[-1]}' (or it may not exist).")


# Resource Manager v3
def get_project(st, req) -> dict:
    pid = _project_id(st.cloud, req.param("projectsId"))
    found = _project(st.cloud, pid)
    return {"name": f"projects/{found['number']}", "projectId": pid, "state": found["state"], "displayName": pid,
            "parent": "organizations/123456789012", "createTime": "2024-01-01T00:00:00Z", "etag": "W/\"1\""}


def project_test_permissions(st, req) -> dict:
    pid = _project_id(st.cloud, req.param("projectsId"))
    return _test(st.cloud, (req.json or {}).get("permissions", []), f"projects/{pid}")


def project_get_policy(st, req) -> dict:
    pid = _project_id(st.cloud, req.param("projectsId"))
    _require(st.cloud, "resourcemanager.projects.getIamPolicy", f"projects/{pid}")
    with st.cloud.lock:
        return _policy_json(st.cloud.policies.get(f"projects/{pid}", {}))


def project_set_policy(st, req) -> dict:
    pid = _project_id(st.cloud, req.param("projectsId"))
    _require(st.cloud, "resourcemanager.projects.setIamPolicy", f"projects/{pid}")
    return _set_policy(st.cloud, f"projects/{pid}", req.json or {})


# Service Usage v1
def _service(cloud: CloudSetup, pid: str, name: str) -> dict:
    number = _project(cloud, pid)["number"]
    with cloud.lock:
        enabled = name in cloud.services.get(pid, set())
    return {"name": f"projects/{number}/services/{name}", "parent": f"projects/{number}",
            "config": {"name": name, "title": SERVICE_TITLES.get(name, name)},
            "state": "ENABLED" if enabled else "DISABLED"}


def _usage_project(st, req) -> str:
    if req.param("v1Id") != "projects":
        raise GoogleError(400, "Only projects are supported here.")
    pid = _project_id(st.cloud, req.param("v1Id1"))
    _require(st.cloud, "serviceusage.services.get", f"projects/{pid}")
    return pid


def get_service(st, req) -> dict:
    return _service(st.cloud, _usage_project(st, req), req.param("servicesId"))


def batch_get_services(st, req) -> dict:
    pid = _usage_project(st, req)
    names = [v for k, v in req.query_pairs if k == "names"]
    if not names or len(names) > 30:
        raise GoogleError(400, "names must hold between 1 and 30 service names.")
    return {"services": [_service(st.cloud, pid, n.rsplit("/", 1)[-1]) for n in names]}


def _enable(st, pid: str, names: list[str]) -> dict:
    _require(st.cloud, "serviceusage.services.enable", f"projects/{pid}")
    unknown = [n for n in names if n not in SERVICE_TITLES]
    if unknown:
        raise GoogleError(400, f"Not found or permission denied for service(s): {', '.join(unknown)}.", "FAILED_PRECONDITION")
    with st.cloud.lock:
        st.cloud.services.setdefault(pid, set()).update(names)
    services = [_service(st.cloud, pid, n) for n in names]
    op = hashlib.sha1(f"{pid}{names}{now()}".encode()).hexdigest()[:16]
    name = f"operations/acat.p2-{_project(st.cloud, pid)['number']}-{op}"
    with st.cloud.lock:  # read back done at the first poll; the call that starts it answers not done, as Google does
        st.cloud.operations[name] = {
            "name": name, "done": True,
            "response": {"@type": "type.googleapis.com/google.api.serviceusage.v1.BatchEnableServicesResponse",
                         "services": services}}
    return {"name": name}


def get_usage_operation(st, req) -> dict:
    name = f"operations/{req.param('operationsId')}"
    with st.cloud.lock:
        found = st.cloud.operations.get(name)
    if found is None:
        raise GoogleError(404, f"Operation {name} not found.")
    return found


def batch_enable_services(st, req) -> dict:
    pid = _usage_project(st, req)
    return _enable(st, pid, list((req.json or {}).get("serviceIds", [])))


def enable_service(st, req) -> dict:
    return _enable(st, _usage_project(st, req), [req.param("servicesId")])


# IAM v1
def _service_account(project: str, email: str, account_id: str, display_name: str = "") -> dict:
    unique = str(100000000000000000000 + int(hashlib.sha1(email.encode()).hexdigest()[:12], 16))
    out = {"name": f"projects/{project}/serviceAccounts/{email}", "projectId": project, "uniqueId": unique,
           "email": email, "etag": "MDEwMjE5MjA=", "oauth2ClientId": unique}
    if display_name:
        out["displayName"] = display_name
    return out


def _find_account(st, req) -> dict:
    email = req.param("serviceAccountsId")
    with st.cloud.lock:
        found = st.cloud.service_accounts.get(email)
    if found is None:
        raise GoogleError(404, f"Unknown service account {email}.")
    return found


def get_service_account(st, req) -> dict:
    return dict(_find_account(st, req))


def create_service_account(st, req) -> dict:
    pid = _project_id(st.cloud, req.param("projectsId"))
    _require(st.cloud, "iam.serviceAccounts.create", f"projects/{pid}")
    body = req.json or {}
    account_id = body.get("accountId", "")
    if not (6 <= len(account_id) <= 30):
        raise GoogleError(400, "accountId must be 6 to 30 characters.")
    email = f"{account_id}@{pid}.iam.gserviceaccount.com"
    with st.cloud.lock:
        if email in st.cloud.service_accounts:
            raise GoogleError(409, f"Service account {account_id} already exists within project projects/{pid}.")
        display = (body.get("serviceAccount") or {}).get("displayName", "")
        st.cloud.service_accounts[email] = _service_account(pid, email, account_id, display)
        return dict(st.cloud.service_accounts[email])


def account_test_permissions(st, req) -> dict:
    account = _find_account(st, req)
    return _test(st.cloud, (req.json or {}).get("permissions", []), f"projects/{account['projectId']}", account["email"])


def account_get_policy(st, req) -> dict:
    account = _find_account(st, req)
    _require(st.cloud, "iam.serviceAccounts.getIamPolicy", f"projects/{account['projectId']}", account["email"])
    with st.cloud.lock:
        return _policy_json(st.cloud.policies.get(account["email"], {}))


def account_set_policy(st, req) -> dict:
    account = _find_account(st, req)
    _require(st.cloud, "iam.serviceAccounts.setIamPolicy", f"projects/{account['projectId']}", account["email"])
    return _set_policy(st.cloud, account["email"], req.json or {})


def get_role(st, req) -> dict:
    name = f"roles/{req.param('rolesId')}"
    if name not in ROLES:
        raise GoogleError(404, f"The role named {name} was not found.")
    return {"name": name, "title": name.split("/", 1)[1], "includedPermissions": sorted(ROLES[name]), "stage": "GA",
            "etag": "AA=="}


def get_project_role(st, req) -> dict:
    name = f"projects/{_project_id(st.cloud, req.param('projectsId'))}/roles/{req.param('rolesId')}"
    with st.cloud.lock:
        found = st.cloud.custom_roles.get(name)
    if found is None:
        raise GoogleError(404, f"The role named {name} was not found.")
    return {"name": name, "title": req.param("rolesId"), "includedPermissions": sorted(found), "stage": "GA",
            "etag": "AA=="}


# Cloud Storage v1
def _bucket(project: str, name: str, location: str) -> dict:
    return {"kind": "storage#bucket", "id": name, "name": name, "selfLink": f"https://www.googleapis.com/storage/v1/b/{name}",
            "projectNumber": project_number(project), "location": location.upper(), "locationType": "region",
            "storageClass": "STANDARD", "timeCreated": now(), "updated": now(), "metageneration": "1", "etag": "CAE=",
            "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True}, "publicAccessPrevention": "enforced"}}


def _find_bucket(st, name: str) -> dict:
    with st.cloud.lock:
        found = st.cloud.buckets.get(name)
    if found is None:
        raise GoogleError(404, "The specified bucket does not exist.")
    return found


def get_bucket(st, req) -> dict:
    found = _find_bucket(st, req.param("bucket"))
    _require(st.cloud, "storage.buckets.get", *_bucket_resources(st, found))
    return dict(found)


def _bucket_resources(st, found: dict) -> tuple[str, str]:
    with st.cloud.lock:
        pid = next((p for p, v in st.cloud.projects.items() if v["number"] == found["projectNumber"]), "")
    return f"projects/{pid}", f"buckets/{found['name']}"


def insert_bucket(st, req) -> dict:
    pid = _project_id(st.cloud, req.query.get("project", ""))
    _require(st.cloud, "storage.buckets.create", f"projects/{pid}")
    body = req.json or {}
    name = body.get("name", "")
    with st.cloud.lock:
        if name in st.cloud.buckets:
            raise GoogleError(409, "The requested bucket name is not available. The bucket namespace is shared by all "
                                   "users of the system. Please select a different name and try again.")
        st.cloud.buckets[name] = _bucket(pid, name, body.get("location", "US"))
        return dict(st.cloud.buckets[name])


def bucket_test_permissions(st, req) -> dict:
    found = _find_bucket(st, req.param("bucket"))
    requested = [v for k, v in req.query_pairs if k == "permissions"]
    out = _test(st.cloud, requested, *_bucket_resources(st, found))
    return {"kind": "storage#testIamPermissionsResponse", **out}


def bucket_get_policy(st, req) -> dict:
    found = _find_bucket(st, req.param("bucket"))
    resources = _bucket_resources(st, found)
    _require(st.cloud, "storage.buckets.getIamPolicy", *resources)
    with st.cloud.lock:
        policy = _policy_json(st.cloud.policies.get(resources[1], {}))
    return {"kind": "storage#policy", "resourceId": f"projects/_/buckets/{found['name']}", **policy}


def bucket_set_policy(st, req) -> dict:
    found = _find_bucket(st, req.param("bucket"))
    resources = _bucket_resources(st, found)
    _require(st.cloud, "storage.buckets.setIamPolicy", *resources)
    policy = _set_policy(st.cloud, resources[1], {"policy": req.json or {}})
    return {"kind": "storage#policy", "resourceId": f"projects/_/buckets/{found['name']}", **policy}


# Secret Manager: version metadata and the secret's IAM policy
def _secret(st, req) -> tuple[str, str]:
    """(project id, "projects/P/secrets/S"); 404 when the secret has no versions in the stand-in."""
    pid = _project_id(st.cloud, req.param("projectsId"))
    secret = req.param("secretsId")
    number = project_number(pid)
    with st.state.lock:
        versions = st.state.secrets.get((number, secret)) or st.state.secrets.get((None, secret))
    if not versions:
        raise GoogleError(404, f"Secret [projects/{number}/secrets/{secret}] not found or has no versions.")
    return pid, f"projects/{pid}/secrets/{secret}"


def get_secret_version(st, req) -> dict:
    pid, secret = _secret(st, req)
    number, name = project_number(pid), req.param("secretsId")
    with st.state.lock:
        count = len(st.state.secrets.get((number, name)) or st.state.secrets.get((None, name)) or [])
    version = req.param("versionsId")
    index = count if version == "latest" else int(version) if version.isdigit() else 0
    if not 1 <= index <= count:
        raise GoogleError(404, f"Secret Version [projects/{number}/secrets/{name}/versions/{version}] not found.")
    with st.cloud.lock:
        disabled = f"{secret}/versions/{index}" in st.cloud.disabled_versions
    return {"name": f"projects/{number}/secrets/{name}/versions/{index}", "createTime": "2024-01-01T00:00:00Z",
            "state": "DISABLED" if disabled else "ENABLED", "etag": "\"1\""}


def secret_get_policy(st, req) -> dict:
    pid, secret = _secret(st, req)
    _require(st.cloud, "secretmanager.secrets.getIamPolicy", f"projects/{pid}", secret)
    with st.cloud.lock:
        return _policy_json(st.cloud.policies.get(secret, {}))


def secret_set_policy(st, req) -> dict:
    pid, secret = _secret(st, req)
    _require(st.cloud, "secretmanager.secrets.setIamPolicy", f"projects/{pid}", secret)
    return _set_policy(st.cloud, secret, req.json or {})


def secret_test_permissions(st, req) -> dict:
    pid, secret = _secret(st, req)
    return _test(st.cloud, (req.json or {}).get("permissions", []), f"projects/{pid}", secret)


ROUTES = {
    "cloudresourcemanager.projects.get": get_project,
    "cloudresourcemanager.projects.testIamPermissions": project_test_permissions,
    "cloudresourcemanager.projects.getIamPolicy": project_get_policy,
    "cloudresourcemanager.projects.setIamPolicy": project_set_policy,
    "serviceusage.services.get": get_service,
    "serviceusage.services.batchGet": batch_get_services,
    "serviceusage.services.batchEnable": batch_enable_services,
    "serviceusage.services.enable": enable_service,
    "serviceusage.operations.get": get_usage_operation,
    "iam.projects.serviceAccounts.get": get_service_account,
    "iam.projects.serviceAccounts.create": create_service_account,
    "iam.projects.serviceAccounts.testIamPermissions": account_test_permissions,
    "iam.projects.serviceAccounts.getIamPolicy": account_get_policy,
    "iam.projects.serviceAccounts.setIamPolicy": account_set_policy,
    "iam.roles.get": get_role,
    "iam.projects.roles.get": get_project_role,
    "storage.buckets.get": get_bucket,
    "storage.buckets.insert": insert_bucket,
    "storage.buckets.testIamPermissions": bucket_test_permissions,
    "storage.buckets.getIamPolicy": bucket_get_policy,
    "storage.buckets.setIamPolicy": bucket_set_policy,
    "secretmanager.projects.secrets.versions.get": get_secret_version,
    "secretmanager.projects.secrets.getIamPolicy": secret_get_policy,
    "secretmanager.projects.secrets.setIamPolicy": secret_set_policy,
    "secretmanager.projects.secrets.testIamPermissions": secret_test_permissions,
}
