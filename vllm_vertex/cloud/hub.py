"""Reads what a preflight needs from where the weights live: the Hugging Face Hub or GCS.

Finds the repo, whether it is gated and whether the token gets in, the model's ``config.json``,
the tokenizer's chat template and the checkpoint size (safetensors index), through
``huggingface_hub`` or ``google-cloud-storage``. Every failure is a ``SourceError`` with a
cause and a fix; the token is never part of a message.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass

from vllm_vertex.errors import SourceError

__all__ = ["ModelSource", "inspect_gcs", "inspect_hf"]

INDEX = "model.safetensors.index.json"


@dataclass
class ModelSource:
    """What the source told us. ``None`` means it could not be read."""

    where: str
    config: dict | None = None
    has_chat_template: bool | None = None
    total_size: int | None = None
    sha: str = ""  # the commit the revision resolved to (Hub)


def _has_template(tokenizer_config: dict | None, files: set[str]) -> bool | None:
    if "chat_template.jinja" in files or "chat_template.json" in files:
        return True
    if tokenizer_config is None:
        return None
    return bool(tokenizer_config.get("chat_template"))


def inspect_hf(repo_id: str, token: str | None, revision: str = "") -> ModelSource:
    """Checks the repo on the Hub at ``revision`` (empty: the default branch) and reads its configs with ``token``
    (None: anonymous).

    Raises:
        SourceError: the repo is missing, gated without access, or the token is refused.
        ConnectionError: the Hub cannot be reached or answers 5xx (the check cannot run).
    """
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return _inspect_hf(repo_id, token, revision)
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else 0
        if status in (401, 403):
            raise SourceError(
                "hf_token_refused",
                f"the Hub refused the token for {repo_id} (HTTP {status}).",
                "create a new read token, store it as a new version of the secret in hf_token_secret.",
            ) from None
        if status == 404:  # the repo exists (checked first): the revision does not
            raise SourceError("hf_revision_not_found", f"no revision {revision!r}", "fix model_revision") from None
        raise ConnectionError(f"the Hugging Face Hub answered HTTP {status}") from None


def _inspect_hf(repo_id: str, token: str | None, revision: str = "") -> ModelSource:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    from vllm_vertex.cloud.context import current

    api = current().hub(token)
    try:
        info = api.model_info(repo_id, revision=revision or None)
    except RepositoryNotFoundError:
        raise SourceError(
            "hf_not_found",
            f"{repo_id} is not a Hugging Face repo the token can see.",
            "check model_id for typos; for a private repo give hf_token_secret with a token that can read it.",
        ) from None
    try:
        api.auth_check(repo_id)
    except GatedRepoError:
        who = "the token in hf_token_secret has no access" if token else "no HF token was given"
        raise SourceError(
            "hf_gated",
            f"{repo_id} is gated and {who} (the deploy would fail with 'Cannot access gated repository').",
            f"accept the license at https://huggingface.co/{repo_id} with the token's account, store a read token "
            "in Secret Manager and set hf_token_secret to its version.",
        ) from None
    files = {s.rfilename for s in (info.siblings or [])}
    wanted = {}
    with tempfile.TemporaryDirectory(prefix="vllm-vertex-hub-") as cache:
        for name in ("config.json", "tokenizer_config.json", INDEX):
            if name in files:  # at the commit the revision names (the client's endpoint and token)
                with open(api.hf_hub_download(repo_id, name, revision=info.sha, cache_dir=cache)) as f:
                    wanted[name] = json.load(f)
    return ModelSource(
        where="hub",
        config=wanted.get("config.json"),
        has_chat_template=_has_template(wanted.get("tokenizer_config.json"), files),
        total_size=(wanted.get(INDEX) or {}).get("metadata", {}).get("total_size"),
        sha=info.sha or "",
    )


def inspect_gcs(uri: str, project: str, complete: bool = False) -> ModelSource:
    """Reads ``config.json``, ``tokenizer_config.json`` and the safetensors index from a gs:// folder.

    ``complete``: only a staged folder whose ``_COMPLETE`` marker is there (else ``SourceError``).
    """
    from google.api_core import exceptions

    from vllm_vertex.cloud.context import current

    bucket_name, _, folder = uri.removeprefix("gs://").partition("/")
    prefix = folder.rstrip("/") + "/" if folder.strip("/") else ""
    client = current().storage(project)
    bucket = client.bucket(bucket_name)
    try:
        names = {b.name.removeprefix(prefix) for b in client.list_blobs(bucket, prefix=prefix)}
    except (exceptions.NotFound, exceptions.Forbidden) as err:
        raise SourceError(
            "gcs_unreadable",
            f"{uri} cannot be listed ({type(err).__name__}).",
            "check the bucket name, and grant the pipeline's service account roles/storage.objectViewer on it.",
        ) from None
    if complete and "_COMPLETE" not in names:
        raise SourceError("gcs_incomplete", uri, "")
    if "config.json" not in names:
        raise SourceError(
            "gcs_no_config",
            f"{uri} has no config.json (found {len(names)} objects).",
            "point model_id at the folder that holds config.json and the weights.",
        )

    def read(name: str) -> dict | None:
        if name not in names:
            return None
        try:
            return json.loads(bucket.blob(prefix + name).download_as_bytes())
        except exceptions.GoogleAPICallError:
            return None

    index = read(INDEX)
    return ModelSource(
        where="gcs",
        config=read("config.json"),
        has_chat_template=_has_template(read("tokenizer_config.json"), names),
        total_size=(index or {}).get("metadata", {}).get("total_size"),
    )
