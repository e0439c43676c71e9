"""What a project needs before a first run, per identity, and the gcloud command that fixes each gap. Pure.

The package is CLI-only (``components/_runtime.py`` leaves it out of the core embedded in steps):
``clients`` reads and fixes a project with the official clients, ``checks`` runs the checklist.

``vllm-vertex doctor`` (``vllm_vertex/doctor/checks.py``) reads the project and turns each gap into a
``Check`` whose ``fix`` is the exact command; the README's "Before your first run" lists the same
APIs, roles and permissions (a test keeps the two in step). ``docs/iam/*.yaml``, one custom role per
identity with the project-scope permissions below, is generated from here (``python3 -m vllm_vertex.doctor``)
and tested equal. Besides gaps, doctor warns (status ``warning``) on broader IAM than a run needs.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from vllm_vertex.config import DeploymentConfig

__all__ = [
    "APIS",
    "CUSTOM_ROLES",
    "DEPLOYED_MODEL",
    "PIPELINE_ACCOUNT",
    "SUBMITTER",
    "Check",
    "Grant",
    "Inputs",
    "USED_AT",
    "WEIGHTS_WRITE",
    "custom_role_permissions",
    "custom_role_yaml",
    "default_pipeline_account",
    "fixes",
    "member",
    "missing_grants",
    "model_service_agent",
    "summary",
]

# API → what uses it.
APIS: dict[str, str] = {
    "aiplatform.googleapis.com": "Vertex AI pipelines, models and endpoints",
    "cloudquotas.googleapis.com": "the quota check",
    "secretmanager.googleapis.com": "the Hugging Face token",
    "logging.googleapis.com": "deploy diagnosis from the serving container's log",
    "storage.googleapis.com": "the pipeline root",
    "iam.googleapis.com": "service accounts",
    "cloudresourcemanager.googleapis.com": "project and IAM policy reads by doctor",
}


@dataclass(frozen=True)
class Grant:
    """A role on a scope, and the permissions of it that vllm-vertex uses (what is tested)."""

    role: str
    scope: str  # "project", "bucket" (pipeline root), "secret" (HF token), "pipeline-sa", "model-sa"
    permissions: tuple[str, ...]
    why: str


_SUBMIT = ("aiplatform.pipelineJobs.create", "aiplatform.pipelineJobs.get", "aiplatform.pipelineJobs.list",
           "aiplatform.pipelineJobs.cancel", "aiplatform.schedules.create", "aiplatform.schedules.list",
           "aiplatform.schedules.update", "aiplatform.schedules.delete", "aiplatform.endpoints.get",
           "aiplatform.endpoints.list", "aiplatform.endpoints.predict", "aiplatform.endpoints.undeploy",
           "aiplatform.endpoints.delete", "aiplatform.models.get", "aiplatform.models.list", "aiplatform.models.delete",
           "aiplatform.operations.list")
_RUN = ("aiplatform.models.upload", "aiplatform.models.get", "aiplatform.models.list", "aiplatform.models.delete",
        "aiplatform.endpoints.create", "aiplatform.endpoints.get", "aiplatform.endpoints.list",
        "aiplatform.endpoints.deploy", "aiplatform.endpoints.undeploy", "aiplatform.endpoints.delete",
        "aiplatform.endpoints.predict", "aiplatform.operations.list")
# What Vertex AI Pipelines itself checks of the pipeline's service account when it creates a run, besides the
# pipeline-root bucket grant (GOOGLE_PIPELINES_DOC): not a call of ours.
_LAUNCH = ("aiplatform.metadataStores.get",)
GOOGLE_PIPELINES_DOC = "https://cloud.google.com/vertex-ai/docs/tabular-data/tabular-workflows/service-accounts"

SUBMITTER: tuple[Grant, ...] = (
    Grant("roles/aiplatform.user", "project", _SUBMIT, "submit, follow and cancel runs; schedules; smoke; teardown"),
    Grant("roles/logging.viewer", "project", ("logging.logEntries.list",),
          "read a run's step and serving logs (`vllm-vertex logs`)"),
    Grant("roles/iam.serviceAccountUser", "pipeline-sa", ("iam.serviceAccounts.actAs",),
          "run the pipeline as it (`iam.serviceAccounts.actAs`)"),
)
PIPELINE_ACCOUNT: tuple[Grant, ...] = (
    Grant("roles/aiplatform.user", "project", _RUN + _LAUNCH, "upload, endpoint, deploy, predict, undeploy, delete; "
          "start a run (ML Metadata)"),
    Grant("roles/storage.objectUser", "bucket", ("storage.objects.create", "storage.objects.get",
                                                 "storage.objects.list"), "write the pipeline root"),
    Grant("roles/secretmanager.secretAccessor", "secret", ("secretmanager.versions.access",),
          "read the Hugging Face token"),
    Grant("roles/logging.viewer", "project", ("logging.logEntries.list",),
          "read the serving container's log to name a failed deploy's cause"),
    Grant("roles/cloudquotas.viewer", "project", ("cloudquotas.quotas.get",), "read GPU and CPU serving quota"),
    Grant("roles/serviceusage.serviceUsageConsumer", "project", ("serviceusage.services.use",),
          "call Cloud Quotas and Secret Manager on the project's quota"),
    Grant("roles/iam.serviceAccountUser", "model-sa", ("iam.serviceAccounts.actAs",),
          "deploy the model as it (only when `service_account` is set)"),
    Grant("roles/storage.objectViewer", "model-bucket", ("storage.objects.get", "storage.objects.list"),
          "read a `gs://` model folder's config in preflight (only for a `gs://` model_id)"),
    Grant("roles/storage.objectUser", "weights-bucket", ("storage.objects.create", "storage.objects.delete",
                                                         "storage.objects.get", "storage.objects.list"),
          "stage the weights: write, resume, replace a corrupted copy (only when `stage_weights_to` is set)"),
)
DEPLOYED_MODEL: tuple[Grant, ...] = (
    Grant("roles/storage.objectViewer", "model-bucket", ("storage.objects.get", "storage.objects.list"),
          "read the weights (only for a `gs://` model_id)"),
    Grant("roles/storage.objectViewer", "weights-bucket", ("storage.objects.get", "storage.objects.list"),
          "read the staged weights, and only read them (only when `stage_weights_to` is set)"),
)
# What the deployed model's identity must NOT hold on the staged weights: it serves them, it never writes them.
WEIGHTS_WRITE = ("storage.objects.create", "storage.objects.delete", "storage.objects.update")


# Where each permission is used: the call in the code (each Vertex AI REST method's IAM permission is listed in its
# reference page). Every permission of the grants above has a line (a test checks), and docs/iam/*.yaml cite these.
USED_AT: dict[str, str] = {
    "aiplatform.pipelineJobs.create": "cloud/jobs.py submit: create_pipeline_job",
    "aiplatform.pipelineJobs.get": "cloud/jobs.py get, follow: get_pipeline_job",
    "aiplatform.pipelineJobs.list": "cloud/listing.py runs: list_pipeline_jobs (status)",
    "aiplatform.pipelineJobs.cancel": "cloud/jobs.py cancel: cancel_pipeline_job",
    "aiplatform.schedules.create": "cloud/jobs.py create_schedule: create_schedule",
    "aiplatform.schedules.list": "cloud/jobs.py list_schedules: list_schedules",
    "aiplatform.schedules.update": "cloud/jobs.py change_schedule: pause_schedule, resume_schedule",
    "aiplatform.schedules.delete": "cloud/jobs.py change_schedule: delete_schedule",
    "aiplatform.models.upload": "cloud/vertex.py: upload_model (its operation is read with models.get)",
    "aiplatform.models.get": "cloud/teardown.py: get_model; cloud/operations.py get_operation on a model's operation",
    "aiplatform.models.list": "cloud/teardown.py: list_models (a run's models by label)",
    "aiplatform.models.delete": "cloud/teardown.py: delete_model",
    "aiplatform.endpoints.create": "cloud/vertex.py: create_endpoint",
    "aiplatform.endpoints.get": "cloud/smoke.py, cloud/teardown.py: get_endpoint; cloud/operations.py get_operation "
                                "on an endpoint's operation",
    "aiplatform.endpoints.list": "cloud/listing.py deployments, expired; cloud/teardown.py: list_endpoints",
    "aiplatform.endpoints.deploy": "cloud/vertex.py: deploy_model",
    "aiplatform.endpoints.undeploy": "cloud/teardown.py: undeploy_model",
    "aiplatform.endpoints.delete": "cloud/teardown.py: delete_endpoint",
    "aiplatform.endpoints.predict": "cloud/smoke.py: predict and the OpenAI-compatible chat route; probe",
    "aiplatform.operations.list": "cloud/jobs.py deploy_stage, cloud/teardown.py: list_operations",
    "logging.logEntries.list": "cloud/logs.py container_log, cloud/listing.py run_logs: list_entries",
    "cloudquotas.quotas.get": "cloud/quotas.py read_quotas: get_quota_info",
    "serviceusage.services.use": "Cloud Quotas and Secret Manager calls billed to the project (quota project)",
    "secretmanager.versions.access": "cloud/secrets.py: access_secret_version (the HF token)",
    "aiplatform.metadataStores.get": "Vertex AI Pipelines, as the pipeline's service account, when it creates a run "
                                     "(else: Failed to create pipeline job); Google: " + GOOGLE_PIPELINES_DOC,
    "storage.objects.create": "the pipeline root: KFP writes each step's outputs; Vertex AI Pipelines checks it and "
                              "storage.objects.get on the bucket when it creates a run; Google: "
                              + GOOGLE_PIPELINES_DOC + "; cloud/weights.py stage: Blob.open",
    "storage.objects.delete": "cloud/weights.py stage: replacing an incomplete object, the _COMPLETE marker",
    "storage.objects.get": "the pipeline root: KFP reads step inputs; a gs:// model folder (cloud/hub.py)",
    "storage.objects.list": "the pipeline root; a gs:// model folder (cloud/hub.py inspect_gcs: list_blobs)",
    "iam.serviceAccounts.actAs": "cloud/jobs.py submit (service_account); cloud/vertex.py deploy_model "
                                 "(the model's service_account)",
}

# One custom role per identity: the project-scope permissions of its grants. Resource-scope grants (the bucket,
# the secret, actAs on a service account) stay the predefined roles above, bound on that one resource.
CUSTOM_ROLES: dict[str, tuple[str, str, tuple[Grant, ...]]] = {
    "submitter": ("vllmVertexSubmitter", "vllm-vertex submitter", SUBMITTER),
    "pipeline": ("vllmVertexPipeline", "vllm-vertex pipeline service account", PIPELINE_ACCOUNT),
}


def custom_role_permissions(identity: str) -> list[str]:
    """The sorted project-scope permissions of ``identity``'s grants (``submitter`` or ``pipeline``)."""
    grants = CUSTOM_ROLES[identity][2]
    return sorted({p for g in grants if g.scope == "project" for p in g.permissions})


def custom_role_yaml(identity: str) -> str:
    """``docs/iam/<identity>.yaml``: the file ``gcloud iam roles create ID --project P --file`` takes."""
    import json

    role_id, title, grants = CUSTOM_ROLES[identity]
    whys = [g.why for g in grants if g.scope == "project"]
    text = f"vllm-vertex {identity}: " + "; ".join(whys)
    while len(text) > 256:  # IAM's limit: whole reasons only
        whys.pop()
        text = f"vllm-vertex {identity}: " + "; ".join(whys) + "; ..."
    description = json.dumps(text)  # a JSON string is YAML
    lines = [f"# Custom role {role_id}: generated from vllm_vertex/doctor/__init__.py (python3 -m vllm_vertex.doctor",
             "# writes it; tests/test_doctor_iam.py keeps the two equal). Each permission's comment: where it is used.",
             f"# gcloud iam roles create {role_id} --project PROJECT --file docs/iam/{identity}.yaml",
             f"title: {title}",
             f"description: {description}",
             "stage: GA",
             "includedPermissions:"]
    lines += [f"- {p}  # {USED_AT[p]}" for p in custom_role_permissions(identity)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Inputs:
    """What doctor checks: from flags and, when given, a run file or preset."""

    project: str
    region: str
    pipeline_root: str = ""
    pipeline_account: str = ""  # empty: Vertex's default (the Compute Engine default service account)
    model_account: str = ""
    hf_token_secret: str = ""
    caller: str = ""  # "user:me@x" / "serviceAccount:ci@x"; empty when unknown
    quota_project: str | None = None  # user credentials' ADC quota project ("" none); None: not user credentials
    config: DeploymentConfig | None = None  # for the quota check

    @property
    def bucket(self) -> str:
        return self.pipeline_root.removeprefix("gs://").split("/", 1)[0] if self.pipeline_root else ""


@dataclass
class Check:
    """One line of the checklist.

    Attributes:
        name: Stable id, e.g. ``api:aiplatform.googleapis.com``, ``bucket``, ``actas``.
        status: ``ok``, ``missing`` (fix it), ``unknown`` (could not be checked: see detail), ``skipped``, or
            ``warning`` (works, but broader than it needs: not a failure; ``fix`` narrows it).
        detail: What was found.
        fix: The command(s) that fix it (gcloud), empty when ok.
        action: What ``--fix`` can apply: ``(kind, {args})``, or None.
    """

    name: str
    status: str
    detail: str
    fix: str = ""
    action: tuple | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped", "warning")

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("action")
        out["fixable"] = self.action is not None
        return out


def default_pipeline_account(project_number: str) -> str:
    """Vertex AI Pipelines' default: the Compute Engine default service account."""
    return f"{project_number}-compute@developer.gserviceaccount.com"


def model_service_agent(project_number: str) -> str:
    """Who a deployed model runs as without ``service_account``: the Vertex AI Custom Code Service Agent."""
    return f"service-{project_number}@gcp-sa-aiplatform-cc.iam.gserviceaccount.com"


def member(identity: str) -> str:
    """An IAM member for an email or member string (service accounts by their domain)."""
    if ":" in identity:
        return identity
    return f"serviceAccount:{identity}" if identity.endswith(".gserviceaccount.com") else f"user:{identity}"


CALLER_PLACEHOLDER = 'user:"$(gcloud config get-value account)"'


def missing_grants(grants: tuple[Grant, ...], scope: str, granted: set[str]) -> list[tuple[Grant, list[str]]]:
    """The grants of ``scope`` whose permissions are not all in ``granted``, with what is missing."""
    out = []
    for grant in grants:
        if grant.scope != scope:
            continue
        lacking = [p for p in grant.permissions if p not in granted]
        if lacking:
            out.append((grant, lacking))
    return out


def _q(value: str) -> str:
    return value if value.startswith('user:"$(') else shlex.quote(value)


def _role_binding(kind: str, inputs: Inputs, args: dict) -> str:
    """The gcloud command that adds (or removes) ``args``' member and role on a resource; empty for other kinds."""
    p, q = shlex.quote(inputs.project), shlex.quote
    command = {
        "project-role": f"projects add-iam-policy-binding {p}",
        "remove-project-role": f"projects remove-iam-policy-binding {p}",
        "account-role": f"iam service-accounts add-iam-policy-binding {q(args.get('email', ''))} --project {p}",
        "bucket-role": f"storage buckets add-iam-policy-binding {q('gs://' + args.get('bucket', ''))}",
        "secret-role": f"secrets add-iam-policy-binding {q(args.get('secret', ''))} --project {p}",
    }.get(kind)
    return f"gcloud {command} --member={_q(args['member'])} --role={q(args['role'])}" if command else ""


def fixes(kind: str, inputs: Inputs, **args) -> str:
    """The gcloud command for one kind of fix."""
    p, q = shlex.quote(inputs.project), shlex.quote
    role_id = CUSTOM_ROLES[args["identity"]][0] if kind == "create-role" else ""
    commands: dict[str, Callable[[], str]] = {  # kind → its command (built only for that kind: args differ)
        "enable": lambda: f"gcloud services enable {' '.join(map(q, args['apis']))} --project {p}",
        "create-bucket": lambda: f"gcloud storage buckets create {q('gs://' + args['bucket'])} --project {p} "
                                 f"--location {q(inputs.region)} --uniform-bucket-level-access",
        "create-account": lambda: f"gcloud iam service-accounts create {q(args['email'].split('@', 1)[0])} "
                                  f'--project {p} --display-name "vllm-vertex pipelines"',
        "create-role": lambda: f"gcloud iam roles describe {q(role_id)} --project {p} >/dev/null 2>&1 || gcloud iam "
                               f"roles create {q(role_id)} --project {p} --file "
                               f"{q('docs/iam/' + args['identity'] + '.yaml')}",
        "create-secret": lambda: f"printf %s \"$HF_TOKEN\" | gcloud secrets create {q(args['secret'])} --project {p} "
                                 "--replication-policy automatic --data-file=-",
        "enable-version": lambda: f"gcloud secrets versions enable {q(args['version'])} --secret {q(args['secret'])} "
                                  f"--project {p}",
    }
    command = _role_binding(kind, inputs, args) or (commands[kind]() if kind in commands else "")
    if not command:
        raise ValueError(f"unknown fix {kind}")
    return command


def summary(checks: list[Check]) -> str:
    """``N of M ok; K missing; U could not be checked; W warnings`` (warnings are not counted as checks)."""
    counted = [c for c in checks if c.status not in ("skipped", "warning")]
    ok = sum(c.status == "ok" for c in counted)
    missing = sum(c.status == "missing" for c in counted)
    unknown = sum(c.status == "unknown" for c in counted)
    text = f"{ok} of {len(counted)} checks ok"
    if missing:
        text += f"; {missing} missing"
    if unknown:
        text += f"; {unknown} could not be checked"
    warnings = sum(c.status == "warning" for c in checks)
    if warnings:
        text += f"; {warnings} warning{'s' if warnings > 1 else ''}"
    return text
