"""Reads and fixes of a project's set-up, with the official clients: what ``doctor`` needs.

Resource Manager (``google-cloud-resource-manager``), Service Usage (``google-cloud-service-usage``),
Cloud Storage (``google-cloud-storage``) and Secret Manager are the official per-service clients, over
REST like the rest of ``vllm_vertex.cloud``. IAM's service accounts and roles are plain REST calls
through google-auth's ``AuthorizedSession``: the official ``google-cloud-iam`` package ships its
``iam_admin_v1`` client with gRPC transports only (2.27.0), which neither the client context's REST
clients nor the stand-in speak. Every client is made from the client context
(``vllm_vertex.cloud.context``). Errors come out as ``google.api_core.exceptions`` whatever the client.
"""

from __future__ import annotations

import functools

from vllm_vertex.cloud import clients
from vllm_vertex.cloud.context import current

__all__ = ["SetupClient"]

IAM_HOST = "iam.googleapis.com"


class SetupClient:
    """One project's set-up: project, APIs, service accounts, IAM, buckets, secrets."""

    def __init__(self, project: str) -> None:
        self.project = project

    # clients
    @functools.cached_property
    def _projects(self):
        from google.cloud import resourcemanager_v3

        return current().gapic(resourcemanager_v3.ProjectsClient)

    @functools.cached_property
    def _usage(self):
        from google.cloud import service_usage_v1

        return current().gapic(service_usage_v1.ServiceUsageClient)

    @functools.cached_property
    def _session(self):
        return current().session()

    @functools.cached_property
    def _storage(self):
        return current().storage(self.project)

    @functools.cached_property
    def _secrets(self):
        return clients.secrets_client()

    def _iam(self, method: str, path: str, body: dict | None = None, params: dict | None = None,
             idempotent: bool = True) -> dict:
        """One IAM v1 REST call (``path`` after ``v1/``); retried on transient errors like the GAPIC calls."""
        from google.api_core import exceptions

        url = f"{current().service_base(IAM_HOST)}/v1/{path}"

        def send() -> dict:
            response = self._session.request(method, url, json=body, params=params, timeout=60)
            if response.status_code >= 400:
                raise exceptions.from_http_response(response)
            return response.json()

        return clients.retry(timeout=30, idempotent=idempotent)(send)()

    # project
    def project_number(self) -> str:
        """The project's number; NotFound/PermissionDenied when it does not exist or is not visible."""
        found = self._projects.get_project(name=f"projects/{self.project}", retry=clients.retry(timeout=30))
        return found.name.split("/", 1)[1]

    def test_project(self, permissions: list[str]) -> set[str]:
        """Which of ``permissions`` the caller holds on the project."""
        response = self._projects.test_iam_permissions(
            resource=f"projects/{self.project}", permissions=sorted(set(permissions)), retry=clients.retry(timeout=30)
        )
        return set(response.permissions)

    def project_policy(self) -> dict[str, set[str]]:
        """role → members of the project's IAM policy."""
        policy = self._projects.get_iam_policy(
            request={"resource": f"projects/{self.project}", "options": {"requested_policy_version": 3}},
            retry=clients.retry(timeout=30),
        )
        return {b.role: set(b.members) for b in policy.bindings}

    def grant_project_role(self, member: str, role: str) -> None:
        """Adds ``member`` to ``role`` on the project (read-modify-write with the policy's etag)."""
        from google.iam.v1 import policy_pb2

        resource = f"projects/{self.project}"
        request = {"resource": resource, "options": {"requested_policy_version": 3}}
        policy = self._projects.get_iam_policy(request=request)
        _add_binding(policy, policy_pb2, role, member)
        self._projects.set_iam_policy(request={"resource": resource, "policy": policy})

    # APIs
    def services(self, names: list[str]) -> dict[str, str]:
        """API name → ``ENABLED``/``DISABLED``."""
        parent = f"projects/{self.project}"
        request = {"parent": parent, "names": [f"{parent}/services/{n}" for n in names]}
        response = self._usage.batch_get_services(request=request, retry=clients.retry(timeout=30))
        return {s.name.rsplit("/", 1)[-1]: s.state.name for s in response.services}

    def enable(self, names: list[str]) -> None:
        """Enables the APIs (waits for the operation, by ``vllm_vertex.clock``, at most 5 minutes)."""
        from vllm_vertex.cloud import backoff

        operation = self._usage.batch_enable_services(
            request={"parent": f"projects/{self.project}", "service_ids": list(names)},
            retry=clients.retry(timeout=30, idempotent=False),
        )
        operation.result(timeout=300, polling=backoff.polling())

    # service accounts and roles (IAM v1 over REST: see the module docstring)
    def service_account(self, email: str) -> dict | None:
        """The ServiceAccount (its JSON), or None when it does not exist."""
        from google.api_core import exceptions

        try:
            return self._iam("GET", f"projects/-/serviceAccounts/{email}")
        except exceptions.NotFound:
            return None

    def create_service_account(self, email: str) -> dict:
        account_id = email.split("@", 1)[0]
        body = {"accountId": account_id, "serviceAccount": {"displayName": "vllm-vertex pipelines"}}
        return self._iam("POST", f"projects/{self.project}/serviceAccounts", body, idempotent=False)

    def test_account(self, email: str, permissions: list[str]) -> set[str]:
        """Which of ``permissions`` the caller holds on the service account (e.g. actAs)."""
        found = self._iam("POST", f"projects/-/serviceAccounts/{email}:testIamPermissions",
                          {"permissions": list(permissions)})
        return set(found.get("permissions", []))

    def account_policy(self, email: str) -> dict[str, set[str]]:
        return _bindings(self._account_policy(email))

    def _account_policy(self, email: str) -> dict:
        return self._iam("POST", f"projects/-/serviceAccounts/{email}:getIamPolicy",
                         params={"options.requestedPolicyVersion": 3})

    def grant_account_role(self, email: str, member: str, role: str) -> None:
        policy = self._account_policy(email)
        _add_json_binding(policy, role, member)
        self._iam("POST", f"projects/-/serviceAccounts/{email}:setIamPolicy", {"policy": policy})

    @functools.cache  # noqa: B019 - one client per command: roles do not change while it runs
    def role_permissions(self, role: str) -> frozenset[str]:
        """A role's ``includedPermissions`` (predefined ``roles/...`` or custom ``projects/P/roles/...``)."""
        return frozenset(self._iam("GET", role).get("includedPermissions", []))

    def member_permissions(self, member: str, *policies: dict[str, set[str]]) -> set[str]:
        """What ``member`` holds through direct bindings in ``policies`` (groups and folders are not seen)."""
        roles = {role for policy in policies for role, members in policy.items() if member in members}
        granted: set[str] = set()
        for role in sorted(roles):
            granted |= self.role_permissions(role)
        return granted

    # buckets
    def bucket(self, name: str):
        """The bucket, or None when it does not exist (Forbidden when it exists but is not yours to see)."""
        from google.api_core import exceptions

        try:
            return self._storage.get_bucket(name, retry=clients.retry(timeout=30))
        except exceptions.NotFound:
            return None

    def create_bucket(self, name: str, location: str):
        bucket = self._storage.bucket(name)
        bucket.iam_configuration.uniform_bucket_level_access_enabled = True
        return self._storage.create_bucket(bucket, location=location, project=self.project)

    def test_bucket(self, name: str, permissions: list[str]) -> set[str]:
        return set(self._storage.bucket(name).test_iam_permissions(list(permissions)))

    def bucket_policy(self, name: str) -> dict[str, set[str]]:
        policy = self._storage.bucket(name).get_iam_policy(requested_policy_version=3)
        return {b["role"]: set(b["members"]) for b in policy.bindings}

    def grant_bucket_role(self, name: str, member: str, role: str) -> None:
        bucket = self._storage.bucket(name)
        policy = bucket.get_iam_policy(requested_policy_version=3)
        policy.bindings.append({"role": role, "members": {member}})
        bucket.set_iam_policy(policy)

    # secrets
    def secret_version(self, name: str):
        """The SecretVersion (metadata, never the payload), or None when it does not exist."""
        from google.api_core import exceptions

        try:
            return self._secrets.get_secret_version(name=name, retry=clients.retry(timeout=30))
        except exceptions.NotFound:
            return None

    def secret_policy(self, secret: str) -> dict[str, set[str]]:
        policy = self._secrets.get_iam_policy(request={"resource": secret}, retry=clients.retry(timeout=30))
        return {b.role: set(b.members) for b in policy.bindings}

    def grant_secret_role(self, secret: str, member: str, role: str) -> None:
        from google.iam.v1 import policy_pb2

        policy = self._secrets.get_iam_policy(request={"resource": secret})
        _add_binding(policy, policy_pb2, role, member)
        self._secrets.set_iam_policy(request={"resource": secret, "policy": policy})


def _bindings(policy: dict) -> dict[str, set[str]]:
    return {b["role"]: set(b.get("members", [])) for b in policy.get("bindings", [])}


def _add_json_binding(policy: dict, role: str, member: str) -> None:
    for binding in policy.setdefault("bindings", []):
        if binding["role"] == role and "condition" not in binding:
            if member not in binding.setdefault("members", []):
                binding["members"].append(member)
            return
    policy["bindings"].append({"role": role, "members": [member]})


def _add_binding(policy, policy_pb2, role: str, member: str) -> None:
    for binding in policy.bindings:
        if binding.role == role and not binding.HasField("condition"):
            if member not in binding.members:
                binding.members.append(member)
            return
    policy.bindings.append(policy_pb2.Binding(role=role, members=[member]))
