"""Reads and fixes of a project's set-up, with the official clients: what ``doctor`` needs.

Resource Manager (``google-cloud-resource-manager``), Cloud Storage (``google-cloud-storage``) and
Secret Manager are GAPIC/official clients; Service Usage and IAM use google-api-python-client's
discovery clients (their discovery documents ship with it). Every client is made from the client
context (``vllm_vertex.cloud.context``), like the rest of ``vllm_vertex.cloud``.
Errors come out as ``google.api_core.exceptions`` whatever the client.
"""

from __future__ import annotations

import functools

from vllm_vertex.cloud import clients
from vllm_vertex.cloud.context import current

__all__ = ["SetupClient"]


def _api_error(err):
    """A googleapiclient ``HttpError`` as the matching ``google.api_core`` exception."""
    from google.api_core import exceptions

    status = int(getattr(err.resp, "status", 500))
    try:
        message = err._get_reason()  # noqa: SLF001 - the parsed error message
    except Exception:  # noqa: BLE001
        message = str(err)
    return exceptions.from_http_status(status, message)


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
        return current().discovery("serviceusage", "v1")

    @functools.cached_property
    def _iam(self):
        return current().discovery("iam", "v1")

    @functools.cached_property
    def _storage(self):
        return current().storage(self.project)

    @functools.cached_property
    def _secrets(self):
        return clients.secrets_client()

    @staticmethod
    def _execute(request):
        from googleapiclient.errors import HttpError

        try:
            return request.execute(num_retries=2)
        except HttpError as err:
            raise _api_error(err) from None

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
        request = self._usage.services().batchGet(
            parent=f"projects/{self.project}", names=[f"projects/{self.project}/services/{n}" for n in names]
        )
        found = self._execute(request).get("services", [])
        return {s["name"].rsplit("/", 1)[-1]: s.get("state", "") for s in found}

    def enable(self, names: list[str]) -> None:
        """Enables the APIs (waits for the operation)."""
        from vllm_vertex import clock

        operation = self._execute(
            self._usage.services().batchEnable(parent=f"projects/{self.project}", body={"serviceIds": list(names)})
        )
        deadline = clock.monotonic() + 300
        while not operation.get("done"):
            if clock.monotonic() > deadline:
                raise TimeoutError(f"enabling {', '.join(names)} takes more than 5 minutes: {operation.get('name')}")
            clock.sleep(2)
            operation = self._execute(self._usage.operations().get(name=operation["name"]))
        if "error" in operation:
            from google.api_core import exceptions

            raise exceptions.from_grpc_status(operation["error"].get("code", 2), operation["error"].get("message", ""))

    # service accounts and roles
    def service_account(self, email: str) -> dict | None:
        """The ServiceAccount, or None when it does not exist."""
        from google.api_core import exceptions

        try:
            return self._execute(self._iam.projects().serviceAccounts().get(name=f"projects/-/serviceAccounts/{email}"))
        except exceptions.NotFound:
            return None

    def create_service_account(self, email: str) -> dict:
        account_id = email.split("@", 1)[0]
        body = {"accountId": account_id, "serviceAccount": {"displayName": "vllm-vertex pipelines"}}
        return self._execute(self._iam.projects().serviceAccounts().create(name=f"projects/{self.project}", body=body))

    def test_account(self, email: str, permissions: list[str]) -> set[str]:
        """Which of ``permissions`` the caller holds on the service account (e.g. actAs)."""
        request = self._iam.projects().serviceAccounts().testIamPermissions(
            resource=f"projects/-/serviceAccounts/{email}", body={"permissions": list(permissions)}
        )
        return set(self._execute(request).get("permissions", []))

    def account_policy(self, email: str) -> dict[str, set[str]]:
        request = self._iam.projects().serviceAccounts().getIamPolicy(resource=f"projects/-/serviceAccounts/{email}")
        return _bindings(self._execute(request))

    def grant_account_role(self, email: str, member: str, role: str) -> None:
        accounts = self._iam.projects().serviceAccounts()
        resource = f"projects/-/serviceAccounts/{email}"
        policy = self._execute(accounts.getIamPolicy(resource=resource))
        _add_json_binding(policy, role, member)
        self._execute(accounts.setIamPolicy(resource=resource, body={"policy": policy}))

    @functools.cache  # noqa: B019 - one client per command: roles do not change while it runs
    def role_permissions(self, role: str) -> frozenset[str]:
        """A role's ``includedPermissions`` (predefined ``roles/...`` or custom ``projects/P/roles/...``)."""
        roles = self._iam.projects().roles() if role.startswith("projects/") else self._iam.roles()
        return frozenset(self._execute(roles.get(name=role)).get("includedPermissions", []))

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
