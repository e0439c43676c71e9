"""``vllm-vertex doctor``: check a project's set-up for vllm-vertex, and optionally fix it.

Each check reads the project with the official clients (``vllm_vertex.doctor.clients``) and becomes a
``doctor.Check`` (ok / missing / unknown / skipped) with the exact gcloud fix. The caller's own
permissions are tested with ``testIamPermissions``; a service account's are read from the IAM
policies (project, bucket, secret, service account) and the roles' permissions, so only direct
bindings count (a grant through a group, folder or organization shows as missing: the detail says so).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from vllm_vertex import doctor
from vllm_vertex.doctor import Check, Inputs

__all__ = ["apply_fixes", "run"]

_DIRECT = "direct project/resource bindings; a grant through a group, folder or organization is not seen"
_POLICY_READER = ("reading IAM policies needs resourcemanager.projects.getIamPolicy and iam.roles.get "
                  "(roles/iam.securityReviewer)")


def _denied():
    from google.api_core import exceptions

    return (exceptions.Forbidden, exceptions.PermissionDenied, exceptions.Unauthorized, exceptions.Unauthenticated)


def _message(err: Exception) -> str:
    """The API's message without the request line the REST clients put first (``GET https://...: ``)."""
    import re

    text = getattr(err, "message", "") or str(err)
    return re.sub(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ", "", text.strip()).splitlines()[0] if text.strip() else ""


def run(inputs: Inputs, client=None) -> list[Check]:
    """Every check, in order. Stops after the project check when the project cannot be read."""
    from vllm_vertex.doctor.clients import SetupClient

    cloud = client or SetupClient(inputs.project)
    who = inputs.caller or "identity not shown"
    checks = [Check("credentials", "ok", f"Application Default Credentials work ({who})")]
    if inputs.quota_project == "":
        checks.append(Check("quota-project", "missing", "your user credentials have no quota project: Cloud Quotas "
                            "and Service Usage refuse user calls without one",
                            "gcloud auth application-default set-quota-project " + shlex.quote(inputs.project)))
    elif inputs.quota_project:
        checks.append(Check("quota-project", "ok", f"user credentials bill quota project {inputs.quota_project}"))
    try:
        number = cloud.project_number()
    except (*_denied(), _not_found()) as err:
        checks.append(Check("project", "missing", f"project {inputs.project} does not exist or you cannot see it "
                            f"({_message(err)})", fix="gcloud projects list   # check the project ID and your access"))
        return checks
    checks.append(Check("project", "ok", f"project {inputs.project} (number {number})"))
    checks += _apis(cloud, inputs)
    checks += _caller(cloud, inputs)
    account = inputs.pipeline_account or doctor.default_pipeline_account(number)
    account_ok, account_checks = _pipeline_account(cloud, inputs, account)
    checks += account_checks
    policy = _project_policy(cloud)
    if account_ok:
        checks += _account_permissions(cloud, inputs, account, policy)
    checks += _bucket(cloud, inputs, account if account_ok else "", policy)
    checks += _secret(cloud, inputs, account if account_ok else "", policy)
    if inputs.model_account:
        checks += _model_account(cloud, inputs, account if account_ok else "", policy)
    checks += _model_bucket(cloud, inputs, number, policy, account if account_ok else "")
    checks += _weights_bucket(cloud, inputs, number, policy, account if account_ok else "")
    checks += _warnings(inputs, number, account if account_ok else "", policy)
    checks += _quota(inputs)
    return checks


def _not_found():
    from google.api_core import exceptions

    return exceptions.NotFound


def _apis(cloud, inputs: Inputs) -> list[Check]:
    names = list(doctor.APIS)
    try:
        states = cloud.services(names)
    except _denied() as err:
        text = _message(err)
        if "serviceusage" in text.lower() and ("disabled" in text.lower() or "not been used" in text.lower()):
            fix = doctor.fixes("enable", inputs, apis=["serviceusage.googleapis.com"])
            return [Check("apis", "missing", f"the Service Usage API is disabled ({text})", fix,
                          ("enable", {"apis": ["serviceusage.googleapis.com"]}))]
        return [Check("apis", "unknown", f"cannot read which APIs are enabled ({text})",
                      doctor.fixes("project-role", inputs, member=inputs.caller or doctor.CALLER_PLACEHOLDER,
                                   role="roles/serviceusage.serviceUsageConsumer"))]
    out = []
    for name in names:
        if states.get(name) == "ENABLED":
            out.append(Check(f"api:{name}", "ok", f"{name} enabled ({doctor.APIS[name]})"))
        else:
            out.append(Check(f"api:{name}", "missing", f"{name} is not enabled; needed for {doctor.APIS[name]}",
                             doctor.fixes("enable", inputs, apis=[name]), ("enable", {"apis": [name]})))
    return out


def _caller(cloud, inputs: Inputs) -> list[Check]:
    wanted = [p for g in doctor.SUBMITTER if g.scope == "project" for p in g.permissions]
    try:
        granted = cloud.test_project(wanted)
    except _denied() as err:
        return [Check("caller", "unknown", f"cannot test your permissions ({_message(err)})")]
    who = inputs.caller or doctor.CALLER_PLACEHOLDER
    out = []
    for grant, lacking in doctor.missing_grants(doctor.SUBMITTER, "project", granted):
        out.append(Check(f"caller:{grant.role}", "missing",
                         f"you lack {_few(lacking)} on the project: needed to {grant.why}",
                         doctor.fixes("project-role", inputs, member=who, role=grant.role),
                         ("project-role", {"member": who, "role": grant.role}) if inputs.caller else None))
    if not out:
        out.append(Check("caller", "ok", f"you may submit, follow, schedule, smoke-test and tear down "
                                         f"({len(set(wanted))} permissions tested)"))
    return out


def _pipeline_account(cloud, inputs: Inputs, account: str) -> tuple[bool, list[Check]]:
    default = "" if inputs.pipeline_account else " (Vertex's default: the Compute Engine default service account)"
    try:
        found = cloud.service_account(account)
    except _denied() as err:
        return False, [Check("pipeline-account", "unknown", f"cannot read service account {account}{default} "
                                                            f"({_message(err)})")]
    if found is None:
        in_project = account.endswith(f"@{inputs.project}.iam.gserviceaccount.com")
        fix = doctor.fixes("create-account", inputs, email=account) if in_project else (
            "gcloud services enable compute.googleapis.com --project " + shlex.quote(inputs.project)
            if not inputs.pipeline_account else f"# {account} belongs to another project: ask its owner")
        action = ("create-account", {"email": account}) if in_project else None
        return False, [Check("pipeline-account", "missing", f"service account {account}{default} does not exist", fix,
                             action)]
    if found.get("disabled"):
        return False, [Check("pipeline-account", "missing", f"service account {account} is disabled",
                             f"gcloud iam service-accounts enable {shlex.quote(account)} "
                             f"--project {shlex.quote(inputs.project)}")]
    out = [Check("pipeline-account", "ok", f"pipeline service account {account}{default}")]
    try:
        acts = "iam.serviceAccounts.actAs" in cloud.test_account(account, ["iam.serviceAccounts.actAs"])
    except _denied() as err:
        return True, out + [Check("actas", "unknown", f"cannot test actAs on {account} ({_message(err)})")]
    who = inputs.caller or doctor.CALLER_PLACEHOLDER
    if acts:
        out.append(Check("actas", "ok", f"you may act as {account} (iam.serviceAccounts.actAs)"))
    else:
        out.append(Check("actas", "missing", f"you may not act as {account}: submitting a run as it needs "
                                             "iam.serviceAccounts.actAs",
                         doctor.fixes("account-role", inputs, email=account, member=who,
                                      role="roles/iam.serviceAccountUser"),
                         ("account-role", {"email": account, "member": who, "role": "roles/iam.serviceAccountUser"})
                         if inputs.caller else None))
    return True, out


def _project_policy(cloud) -> dict | Exception:
    try:
        return cloud.project_policy()
    except _denied() as err:
        return err


def _account_permissions(cloud, inputs: Inputs, account: str, policy) -> list[Check]:
    if isinstance(policy, Exception):
        return [Check("pipeline-account-roles", "unknown",
                      f"cannot read the project's IAM policy to check {account}'s roles: {_POLICY_READER}")]
    granted = cloud.member_permissions(doctor.member(account), policy)
    out = []
    for grant, lacking in doctor.missing_grants(doctor.PIPELINE_ACCOUNT, "project", granted):
        m = doctor.member(account)
        out.append(Check(f"pipeline-account:{grant.role}", "missing",
                         f"{account} lacks {_few(lacking)}: needed to {grant.why} ({_DIRECT})",
                         doctor.fixes("project-role", inputs, member=m, role=grant.role),
                         ("project-role", {"member": m, "role": grant.role})))
    if not out:
        out.append(Check("pipeline-account-roles", "ok", f"{account} holds the project roles a run needs"))
    return out


def _grant(grants, scope: str) -> doctor.Grant:
    return next(g for g in grants if g.scope == scope)


def _policy_grant(cloud, inputs: Inputs, name: str, identity: str, policy, resource_policy: Callable[[], dict],
                  grant: doctor.Grant, fix: tuple[str, dict], ok: str, lacks: str) -> Check | None:
    """Whether ``identity`` holds ``grant`` through the project's and one resource's IAM policies.

    None when a policy cannot be read (the caller decides: "unknown", or a test of its own).
    ``fix`` is (kind, args) of ``doctor.fixes`` without member and role.
    """
    if isinstance(policy, Exception):
        return None
    try:
        granted = cloud.member_permissions(doctor.member(identity), policy, resource_policy())
    except (*_denied(), _not_found()):
        return None
    lacking = [p for p in grant.permissions if p not in granted]
    if not lacking:
        return Check(name, "ok", ok)
    kind, args = fix[0], {**fix[1], "member": doctor.member(identity), "role": grant.role}
    return Check(name, "missing", f"{lacks} (lacks {_few(lacking)}; {_DIRECT})",
                 doctor.fixes(kind, inputs, **_fix_args(kind, args)), (kind, args))


def _bucket(cloud, inputs: Inputs, account: str, policy) -> list[Check]:
    if not inputs.bucket:
        return [Check("bucket", "skipped",
                      "no pipeline root given (RUN.yaml's pipeline.pipeline_root or --pipeline-root)")]
    name = inputs.bucket
    try:
        found = cloud.bucket(name)
        where = f" ({found.location})" if found is not None else ""
    except _denied():
        # No storage.buckets.get (roles/storage.objectUser lacks it): testIamPermissions still answers,
        # and answers 404 when the bucket does not exist.
        try:
            cloud.test_bucket(name, ["storage.objects.get"])
            found, where = True, " (its metadata is not readable by you)"
        except _not_found():
            found = None
        except _denied() as err:
            return [Check("bucket", "missing", f"gs://{name} exists but you cannot use it (another project's "
                                               f"bucket? {_message(err)})",
                          f"# pick a bucket of {inputs.project}, or ask for roles/storage.objectUser on gs://{name}")]
    if found is None:
        return [Check("bucket", "missing", f"the pipeline-root bucket gs://{name} does not exist",
                      doctor.fixes("create-bucket", inputs, bucket=name), ("create-bucket", {"bucket": name}))]
    out = [Check("bucket", "ok", f"pipeline root gs://{name} exists{where}")]
    grant = _grant(doctor.PIPELINE_ACCOUNT, "bucket")
    if account:
        found_grant = _policy_grant(cloud, inputs, "bucket-writable", account, policy,
                                    lambda: cloud.bucket_policy(name), grant, ("bucket-role", {"bucket": name}),
                                    f"{account} may write gs://{name}", f"{account} cannot write gs://{name}")
        if found_grant is not None:
            return out + [found_grant]
    # The service account's grants cannot be read: test the caller's instead, and say so.
    granted = cloud.test_bucket(name, list(grant.permissions))
    lacking = [p for p in grant.permissions if p not in granted]
    who = inputs.caller or doctor.CALLER_PLACEHOLDER
    if not lacking:
        return out + [Check("bucket-writable", "ok", f"gs://{name} is writable by you (the service account's grants "
                                                     f"could not be read: {_POLICY_READER})")]
    return out + [Check("bucket-writable", "missing", f"gs://{name} is not writable by you (lacks {_few(lacking)})",
                        doctor.fixes("bucket-role", inputs, bucket=name, member=who, role=grant.role))]


def _secret(cloud, inputs: Inputs, account: str, policy) -> list[Check]:
    if not inputs.hf_token_secret:
        return [Check("secret", "skipped", "no hf_token_secret given (only gated models need one)")]
    version_name = inputs.hf_token_secret
    secret = version_name.split("/versions/", 1)[0]
    short = secret.rsplit("/", 1)[-1]
    try:
        found = cloud.secret_version(version_name)
    except _denied() as err:
        found, denied = None, err
    else:
        denied = None
    if denied is not None:
        out = [Check("secret", "unknown", f"cannot read {version_name}'s metadata ({_message(denied)})")]
    elif found is None:
        return [Check("secret", "missing", f"secret version {version_name} does not exist",
                      doctor.fixes("create-secret", inputs, secret=short))]
    else:
        state = getattr(found.state, "name", str(found.state))
        if state != "ENABLED":
            return [Check("secret", "missing", f"secret version {version_name} is {state}",
                          doctor.fixes("enable-version", inputs, secret=short, version=found.name.rsplit("/", 1)[-1])
                          if state == "DISABLED" else doctor.fixes("create-secret", inputs, secret=short))]
        out = [Check("secret", "ok", f"secret version {version_name} is enabled")]
    if not account:
        return out
    checked = _policy_grant(cloud, inputs, "secret-readable", account, policy, lambda: cloud.secret_policy(secret),
                            _grant(doctor.PIPELINE_ACCOUNT, "secret"), ("secret-role", {"secret": secret}),
                            f"{account} may read {secret}", f"{account} cannot read {secret}")
    return out + [checked or Check("secret-readable", "unknown", f"cannot check that {account} may read {secret}: "
                                                                 f"{_POLICY_READER}")]


def _model_account(cloud, inputs: Inputs, pipeline_account: str, policy) -> list[Check]:
    account = inputs.model_account
    try:
        found = cloud.service_account(account)
    except _denied() as err:
        return [Check("model-account", "unknown", f"cannot read service account {account} ({_message(err)})")]
    if found is None:
        in_project = account.endswith(f"@{inputs.project}.iam.gserviceaccount.com")
        return [Check("model-account", "missing", f"the deployed model's service account {account} does not exist",
                      doctor.fixes("create-account", inputs, email=account) if in_project else "",
                      ("create-account", {"email": account}) if in_project else None)]
    out = [Check("model-account", "ok", f"deployed model's service account {account}")]
    if not pipeline_account:
        return out
    checked = _policy_grant(cloud, inputs, "model-account-actas", pipeline_account, policy,
                            lambda: cloud.account_policy(account), _grant(doctor.PIPELINE_ACCOUNT, "model-sa"),
                            ("account-role", {"email": account}), f"{pipeline_account} may deploy as {account}",
                            f"{pipeline_account} may not act as {account}, which deploying the model as it needs")
    return out + [checked or Check("model-account-actas", "unknown", f"cannot check that {pipeline_account} may "
                                                                     f"act as {account}: {_POLICY_READER}")]


def _model_bucket(cloud, inputs: Inputs, number: str, policy, pipeline_account: str = "") -> list[Check]:
    """A ``gs://`` model folder must be readable by the identity the model runs as, and by preflight's."""
    model_id = getattr(inputs.config, "model_id", "") or ""
    if not model_id.startswith("gs://"):
        return []
    bucket = model_id.removeprefix("gs://").split("/", 1)[0]
    account = inputs.model_account or doctor.model_service_agent(number)
    out = [_bucket_grant(cloud, inputs, policy, bucket, "model-bucket", account,
                         (doctor.DEPLOYED_MODEL, "model-bucket"), f"{account} may read the model folder in gs://{bucket}",
                         f"{account} (the deployed model's identity) cannot read gs://{bucket}", "read")]
    if pipeline_account:
        out.append(_bucket_grant(cloud, inputs, policy, bucket, "model-bucket-preflight", pipeline_account,
                                 (doctor.PIPELINE_ACCOUNT, "model-bucket"),
                                 f"{pipeline_account} may read the model folder in gs://{bucket} (preflight)",
                                 f"{pipeline_account} (preflight reads the model's config) cannot read gs://{bucket}",
                                 "read"))
    return out


def _bucket_grant(cloud, inputs: Inputs, policy, bucket: str, name: str, account: str,
                  grant: tuple[tuple[doctor.Grant, ...], str],
                  ok: str, bad: str, verb: str) -> Check:
    """Whether ``account`` holds the bucket-level grant ``grant`` (identity, need) on ``bucket``, as one check."""
    checked = _policy_grant(cloud, inputs, name, account, policy, lambda: cloud.bucket_policy(bucket), _grant(*grant),
                            ("bucket-role", {"bucket": bucket}), ok, bad)
    return checked or Check(name, "unknown", f"cannot check that {account} may {verb} gs://{bucket}: {_POLICY_READER}")


def _weights_bucket(cloud, inputs: Inputs, number: str, policy, pipeline_account: str = "") -> list[Check]:
    """Staged weights (``stage_weights_to``): the pipeline's identity writes them, the model's only reads them."""
    dest = getattr(inputs.config, "stage_weights_to", "") or ""
    if not dest:
        return []
    bucket = dest.removeprefix("gs://").split("/", 1)[0]
    out = []
    if pipeline_account:
        out.append(_bucket_grant(cloud, inputs, policy, bucket, "weights-bucket-write", pipeline_account,
                                 (doctor.PIPELINE_ACCOUNT, "weights-bucket"),
                                 f"{pipeline_account} may stage the weights in gs://{bucket}",
                                 f"{pipeline_account} (stage-weights) cannot write gs://{bucket}", "write"))
    account = inputs.model_account or doctor.model_service_agent(number)
    read = _bucket_grant(cloud, inputs, policy, bucket, "weights-bucket-read", account,
                         (doctor.DEPLOYED_MODEL, "weights-bucket"), f"{account} may read the staged weights in gs://{bucket}",
                         f"{account} (the deployed model's identity) cannot read gs://{bucket}", "read")
    out.append(read)
    if read.status != "unknown" and not isinstance(policy, Exception):
        try:
            granted = cloud.member_permissions(doctor.member(account), policy, cloud.bucket_policy(bucket))
        except (*_denied(), _not_found()):
            return out
        writes = sorted(set(doctor.WEIGHTS_WRITE) & granted)
        if writes:
            out.append(Check("weights-bucket-read-only", "warning",
                             f"{account} (the deployed model's identity) may also write gs://{bucket} "
                             f"({_few(writes)}): a served model only needs to read its weights",
                             f"# keep roles/storage.objectViewer for {doctor.member(account)} on gs://{bucket} and "
                             "remove its writing roles there (gcloud storage buckets remove-iam-policy-binding)"))
    return out


_BROAD = ("roles/owner", "roles/editor")
_VIEWERS = ("roles/viewer", "roles/aiplatform.viewer")


def _warnings(inputs: Inputs, number: str, account: str, policy) -> list[Check]:
    """Works, but broader than a run needs: owner/editor, the default compute account, token readers."""
    out = []
    default = doctor.default_pipeline_account(number)
    dedicated = f"vllm-pipelines@{inputs.project}.iam.gserviceaccount.com"
    if account == default:
        out.append(Check("warning:default-pipeline-account", "warning",
                         f"the pipeline runs as the Compute Engine default service account {account}, shared by "
                         "every VM and service that uses it (and often holding roles/editor): give runs their own "
                         "account and set pipeline.service_account in the run file",
                         doctor.fixes("create-account", inputs, email=dedicated)))
    if inputs.model_account == default:
        out.append(Check("warning:default-model-account", "warning",
                         f"the deployed model runs as the Compute Engine default service account {default}: give it "
                         "an account of its own (service_account in the run file) or leave service_account empty",
                         doctor.fixes("create-account", inputs, email=f"vllm-model@{inputs.project}"
                                                                   ".iam.gserviceaccount.com")))
    if isinstance(policy, Exception):
        return out
    for who, identity, label in ((account, "pipeline", "pipeline service account"),
                                 (inputs.caller, "submitter", "submitter (you)")):
        if not who:
            continue
        m = doctor.member(who)
        for role in (r for r in _BROAD if m in policy.get(r, set())):
            custom = f"projects/{inputs.project}/roles/{doctor.CUSTOM_ROLES[identity][0]}"
            fix = " && ".join((doctor.fixes("create-role", inputs, identity=identity),
                               doctor.fixes("project-role", inputs, member=m, role=custom),
                               doctor.fixes("remove-project-role", inputs, member=m, role=role)))
            out.append(Check(f"warning:{identity}-{role.rsplit('/', 1)[-1]}", "warning",
                             f"the {label} {who} holds {role} on project {inputs.project}, far more than a run "
                             f"needs: grant the custom role of docs/iam/{identity}.yaml instead (run doctor again "
                             "afterwards: it names the bucket and secret grants the broad role hid)", fix))
    if inputs.hf_token_secret:
        readers = sorted((member, role) for role in _VIEWERS for member in policy.get(role, set()))
        if readers:
            shown = _few([f"{member} ({role})" for member, role in readers])
            out.append(Check("warning:token-readers", "warning",
                             f"{shown} can read the Hugging Face token: it sits in plain text in the Model's "
                             "container env (HF_TOKEN), readable by anyone with aiplatform.models.get, until weights "
                             "are staged to Cloud Storage (issue #20). Remove the viewer bindings, or use a "
                             "fine-grained read-only token",
                             " && ".join(doctor.fixes("remove-project-role", inputs, member=member, role=role)
                                         for member, role in readers)))
    return out


def _quota(inputs: Inputs) -> list[Check]:
    if inputs.config is None:
        return [Check("quota", "skipped", "no preset or run file given: GPU quota not checked")]
    from vllm_vertex.cloud.quotas import read_quotas
    from vllm_vertex.errors import QuotaError

    try:
        checks, unknown = read_quotas(inputs.config, timeout=60)
    except (QuotaError, *_denied()) as err:
        return [Check("quota", "unknown", f"cannot read quotas ({_message(err)})",
                      doctor.fixes("project-role", inputs, member=inputs.caller or doctor.CALLER_PLACEHOLDER,
                                   role="roles/cloudquotas.viewer"))]
    out = [Check(f"quota:{c.need.quota_id}", "ok" if c.ok else "missing", c.message(inputs.region),
                 "" if c.ok else f"# request more: https://console.cloud.google.com/iam-admin/quotas?project="
                                 f"{inputs.project} (filter {c.need.quota_id})") for c in checks]
    out += [Check(f"quota:{line.split(':', 1)[0]}", "unknown", line) for line in unknown]
    return out


def _few(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def apply_fixes(checks: list[Check], inputs: Inputs,
                log: Callable[[str], None] = print, client=None) -> int:
    """Applies every fixable missing piece, saying each; returns how many failed."""
    from vllm_vertex.doctor.clients import SetupClient

    cloud = client or SetupClient(inputs.project)
    todo = [c.action for c in checks if c.status == "missing" and c.action is not None]
    apis = sorted({a for kind, args in todo if kind == "enable" for a in args["apis"]})
    steps: list[tuple[str, Callable[[], object]]] = []
    if apis:
        steps.append((doctor.fixes("enable", inputs, apis=apis), lambda: cloud.enable(apis)))
    for kind, args in todo:
        if kind == "enable":
            continue
        steps.append((doctor.fixes(kind, inputs, **_fix_args(kind, args)), _step(cloud, inputs, kind, args)))
    failed = 0
    for text, step in steps:
        log(f"fixing: {text}")
        try:
            step()
        except Exception as err:  # noqa: BLE001 - one failed fix must not stop the others; each is reported
            failed += 1
            log(f"  failed: {type(err).__name__}: {_message(err)}")
        else:
            log("  done")
    return failed


def _fix_args(kind: str, args: dict) -> dict:
    if kind == "secret-role":
        return {**args, "secret": args["secret"].rsplit("/", 1)[-1]}
    return args


def _step(cloud, inputs: Inputs, kind: str, args: dict) -> Callable[[], object]:
    if kind == "create-bucket":
        return lambda: cloud.create_bucket(args["bucket"], inputs.region)
    if kind == "create-account":
        return lambda: cloud.create_service_account(args["email"])
    if kind == "project-role":
        return lambda: cloud.grant_project_role(args["member"], args["role"])
    if kind == "account-role":
        return lambda: cloud.grant_account_role(args["email"], args["member"], args["role"])
    if kind == "bucket-role":
        return lambda: cloud.grant_bucket_role(args["bucket"], args["member"], args["role"])
    if kind == "secret-role":
        return lambda: cloud.grant_secret_role(args["secret"], args["member"], args["role"])
    raise ValueError(f"no fix for {kind}")
