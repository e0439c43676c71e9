"""Stages a Hugging Face repo, at a pinned commit, in Cloud Storage: streamed, verified, resumable.

The Hub is read with ``huggingface_hub`` (``HfApi.model_info`` resolves the revision to its commit;
``list_repo_tree`` gives every file's size, git blob id and LFS sha256; ``file_download.http_get``
streams a file, with the Hub's redirect rules and its resume-on-drop). Cloud Storage is written with
``google-cloud-storage``'s ``Blob.open("wb")``: a resumable upload sent in ``CHUNK_SIZE`` pieces, each
retried by the client, with crc32c checked by the client against the server's at the end.

Streaming, no local copy: a file goes Hub → memory → bucket ``CHUNK_SIZE`` at a time, so memory is
about ``WORKERS`` × (``CHUNK_SIZE`` + the Hub client's 10 MB read) whatever the model's size, and the
step needs no disk. The bytes are hashed as they pass (sha256 for LFS files, git's blob sha1 for the
others) and checked against the Hub's metadata before the last piece is sent: a mismatch aborts the
upload, so no object is ever finalised with bytes the Hub did not describe.

Resumable at file granularity: a run lists the folder first and skips every file whose object is
complete (``weights.manifest.object_problem``); an interrupted run leaves its finished files, and its
unfinished uploads are never finalised. The manifest (``_COMPLETE``) is written last.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import hashlib
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vllm_vertex.errors import SourceError, StagingError
from vllm_vertex.weights import manifest as mf
from vllm_vertex.weights.progress import Progress, human_bytes
from vllm_vertex.weights.selection import needed

__all__ = ["CHUNK_SIZE", "WORKERS", "StageResult", "delete_copy", "list_staged", "resolve", "stage", "staged_copy"]

CHUNK_SIZE = 16 * 1024 * 1024  # one resumable-upload request; a multiple of 256 KiB
WORKERS = 4  # files copied at once


@dataclass
class StageResult:
    """What a staging run did.

    Attributes:
        manifest: The folder's manifest (as in ``_COMPLETE``: the figures of the run that completed it).
        copied: Why this run copied each file (``missing``, a size or checksum mismatch), by path.
        copied_bytes: Bytes this run copied (0 when the folder was complete).
        seconds: This run's time.
    """

    manifest: mf.Manifest
    copied: dict[str, str] = field(default_factory=dict)
    copied_bytes: int = 0
    seconds: float = 0.0

    def markdown(self) -> str:
        """The step's report: repo, revision, sha, gs:// path, bytes, staging time."""
        m = self.manifest
        rows = [
            ("repo", m.repo), ("revision", m.revision or "(default branch)"), ("commit sha", m.sha),
            ("staged at", m.uri), ("files", f"{len(m.files)}"), ("bytes", f"{m.total_bytes:,}"),
            ("staging time", f"{m.seconds:.1f} s ({m.copied_bytes:,} bytes copied, finished {m.staged_at})"),
            ("this run", f"{self.copied_bytes:,} bytes copied in {len(self.copied)} files, {self.seconds:.1f} s"),
        ]
        lines = ["# Staged weights", "", "| | |", "|---|---|", *(f"| {k} | `{v}` |" for k, v in rows)]
        lines += [f"- copied `{p}`: {why}" for p, why in sorted(self.copied.items())]
        return "\n".join(lines) + "\n"


def _hub_error(err: Exception, repo_id: str, what: str) -> Exception:
    """A ``SourceError`` or ``StagingError`` with its fix for a Hub error (the token is never in it)."""
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    if isinstance(err, GatedRepoError):
        return SourceError(
            "hf_gated", f"{repo_id} is gated and the token in hf_token_secret has no access ({what}).",
            f"accept the license at https://huggingface.co/{repo_id} with the token's account, or set hf_token_secret.",
        )
    if isinstance(err, RepositoryNotFoundError):
        return SourceError(
            "hf_not_found", f"{repo_id} is not a Hugging Face repo the token can see.",
            "check model_id; for a private repo give hf_token_secret with a token that can read it.",
        )
    if isinstance(err, RevisionNotFoundError):
        return SourceError(
            "hf_revision_not_found", f"{repo_id} has no revision named like model_revision.",
            "set model_revision to a branch, tag or commit of the repo, or leave it empty for the default branch.",
        )
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", 0)
    if status in (401, 403):
        return SourceError(
            "hf_token_refused", f"the Hub refused the token for {repo_id} (HTTP {status}, {what}).",
            "create a new read token and store it as a new version of the secret in hf_token_secret.",
        )
    where = f"HTTP {status}" if status else type(err).__name__
    return StagingError(
        f"the Hugging Face Hub failed while {what} ({where}); files already staged are kept.",
        fix="run again later: the next run copies only what is missing (https://status.huggingface.co).",
    )


def resolve(repo_id: str, revision: str, token: str | None) -> tuple[str, list[mf.FileEntry]]:
    """The commit ``revision`` (empty: the default branch) points at, and the files vLLM needs there.

    Raises:
        SourceError: the repo, revision or access is refused, or the repo has no weights vLLM loads.
        StagingError: the Hub failed (5xx, network).
    """
    import httpx2
    from huggingface_hub.hf_api import RepoFile

    from vllm_vertex.cloud.context import current

    api = current().hub(token)
    try:
        sha = api.model_info(repo_id, revision=revision or None).sha
        tree = [f for f in api.list_repo_tree(repo_id, revision=sha, recursive=True) if isinstance(f, RepoFile)]
    except (httpx2.HTTPError, OSError) as err:  # HfHubHTTPError is both
        raise _hub_error(err, repo_id, "resolving the revision") from None
    files = {f.path: f for f in tree}
    entries = [
        mf.FileEntry(path, int(files[path].size), files[path].lfs.sha256 if files[path].lfs else "",
                     files[path].blob_id or "")
        for path in needed(files)
    ]
    if not entries:
        raise SourceError(
            "hf_no_weights", f"{repo_id} at commit {sha} has no safetensors or pytorch_model*.bin at its top level.",
            "point model_id at the repo that holds the weights vLLM loads.",
        )
    return sha, entries


def _survey(client, bucket, prefix: str) -> tuple[dict[str, mf.ObjectInfo], mf.Manifest | None, bool]:
    """(objects under ``prefix`` by relative path, the manifest there if it reads, whether a marker is there)."""
    objects: dict[str, mf.ObjectInfo] = {}
    for blob in client.list_blobs(bucket, prefix=prefix):
        objects[blob.name[len(prefix):]] = mf.ObjectInfo(int(blob.size or 0), dict(blob.metadata or {}),
                                                          blob.crc32c or "")
    marker = objects.pop(mf.MARKER, None)
    old = None
    if marker is not None:
        try:
            old = mf.Manifest.from_json(bucket.blob(prefix + mf.MARKER).download_as_bytes())
        except ValueError:
            old = None
    return objects, old, marker is not None


class _Quiet:
    """A progress bar that shows nothing (the step logs its own progress lines)."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass


class _Sink:
    """What ``http_get`` writes into: hashes the bytes, checks them at the end, forwards them to the upload."""

    def __init__(self, writer, entry: mf.FileEntry, progress: Progress, log: Callable[[str], None],
                 stop: threading.Event) -> None:
        self.writer, self.entry, self.progress, self.log, self.stop = writer, entry, progress, log, stop
        self.hash = hashlib.sha256() if entry.sha256 else hashlib.sha1(b"blob %d\0" % entry.size)  # noqa: S324 - git's id
        self.n = 0

    def write(self, data: bytes) -> int:
        if self.stop.is_set():
            raise StagingError("stopped: another file failed")
        if self.n + len(data) > self.entry.size:
            raise StagingError(f"{self.entry.path}: the Hub sent more than its {self.entry.size:,} bytes.")
        self.hash.update(data)
        self.n += len(data)
        if self.n == self.entry.size:
            self.check()  # before the last bytes go out: a bad copy is never finalised
        self.writer.write(data)
        line = self.progress.add(len(data))
        if line:
            self.log(line)
        return len(data)

    def tell(self) -> int:
        return self.n

    def check(self) -> None:
        expected = self.entry.digest.partition(":")[2]
        if self.n != self.entry.size or self.hash.hexdigest() != expected:
            raise StagingError(
                f"{self.entry.path}: the bytes from the Hub ({self.n:,}) do not match its metadata "
                f"({self.entry.size:,} bytes, {self.entry.digest}); the upload was aborted.",
                fix="run again: the file is copied afresh.",
            )


def _copy(bucket, prefix: str, url: str, entry: mf.FileEntry, token: str | None, progress: Progress,
          log: Callable[[str], None], stop: threading.Event, chunk_size: int) -> None:
    """Streams one file from the Hub (``url``) into its object; the object is finalised only with the Hub's bytes."""
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    blob = bucket.blob(prefix + entry.path)
    blob.metadata = {mf.DIGEST_KEY: entry.digest}
    kind = "application/json" if entry.path.endswith(".json") else "application/octet-stream"
    writer = blob.open("wb", chunk_size=chunk_size, checksum="crc32c", content_type=kind, ignore_flush=True)
    try:
        sink = _Sink(writer, entry, progress, log, stop)
        http_get(url, sink, headers=build_hf_headers(token=token or False), expected_size=entry.size,
                 displayed_filename=entry.path, tqdm_class=_Quiet)
        sink.check()
        writer.close()  # the last piece: the object is finalised here
    except BaseException:
        # Cancel the session and drop the buffer, also when close() itself failed: else the writer's finaliser
        # would call close() again at garbage collection and retry the upload (for minutes) from any thread.
        with contextlib.suppress(Exception):
            writer.terminate()
        raise


def _gcs_error(err: Exception, uri: str) -> StagingError:
    """A ``StagingError`` with its fix for a Cloud Storage refusal."""
    bucket = mf.split_uri(uri)[0]
    code = getattr(err, "code", None) or getattr(getattr(err, "response", None), "status_code", 0)
    if code == 404:
        return StagingError(f"the bucket gs://{bucket} does not exist (stage_weights_to).",
                            fix="create it in the model's region: gcloud storage buckets create "
                                f"{shlex.quote('gs://' + bucket)} --location=REGION, or fix stage_weights_to.")
    if code in (401, 403):
        return StagingError(f"Cloud Storage refused to write {uri} (HTTP {code}).",
                            fix=f"grant the pipeline's service account roles/storage.objectUser on gs://{bucket} "
                                "(vllm-vertex doctor checks it); files already staged are kept.")
    if code == 429:
        return StagingError(f"Cloud Storage refused {uri} for quota or rate (HTTP 429); files already staged are "
                            "kept.", fix="run again later; the next run copies only what is missing.")
    return StagingError(f"Cloud Storage failed while staging {uri}: {type(err).__name__} {str(err)[:300]}; files "
                        "already staged are kept.", fix="run again: the next run copies only what is missing.")


def stage(repo_id: str, revision: str, dest: str, project: str, token: str | None, *,
          log: Callable[[str], None] = print, workers: int = WORKERS, chunk_size: int = CHUNK_SIZE,
          every: float = 10.0) -> StageResult:
    """Stages ``repo_id`` at ``revision`` under ``dest`` (``gs://bucket/prefix``); returns what was done.

    Raises:
        SourceError: the Hub refuses the repo, revision or token.
        StagingError: the Hub or the bucket failed; what was staged is kept for the next run.
    """
    import httpx2
    import requests
    from google.api_core import exceptions
    from google.cloud.storage.exceptions import DataCorruption, InvalidResponse
    from huggingface_hub import hf_hub_url

    from vllm_vertex.cloud.context import current

    started = time.monotonic()
    hub = current().hf_endpoint or None  # read here: the copying threads do not see a ``using`` context
    sha, entries = resolve(repo_id, revision, token)
    uri = mf.staged_uri(dest, repo_id, sha)
    bucket_name, prefix = mf.split_uri(uri)
    total = sum(e.size for e in entries)
    log(f"{repo_id} at {revision or 'the default branch'} is commit {sha}: {len(entries)} files, "
        f"{human_bytes(total)} → {uri}")
    client = current().storage(project)
    bucket = client.bucket(bucket_name)
    copied: dict[str, str] = {}
    todo: dict[str, str] = {}
    try:
        objects, old, marked = _survey(client, bucket, prefix)
        recorded = old.crc32c() if old else {}
        todo = {e.path: why for e in entries
                if (why := mf.object_problem(e, objects.get(e.path), recorded.get(e.path, "")))}
        if not todo and old is not None and {f.path for f in old.files} == {e.path for e in entries}:
            log(f"{uri} is complete (staged {old.staged_at}): nothing to copy")
            return StageResult(old, {}, 0, round(time.monotonic() - started, 3))
        for path, why in sorted(todo.items()):
            log(f"to copy: {path} ({why})")
        log(f"already staged: {len(entries) - len(todo)} of {len(entries)} files; copying {len(todo)}")
        if todo and marked:
            bucket.blob(prefix + mf.MARKER).delete()  # the folder is incomplete until the copies end
        progress = Progress(sum(e.size for e in entries if e.path in todo), every=every)
        stop = threading.Event()
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(_copy, bucket, prefix, hf_hub_url(repo_id, e.path, revision=sha, endpoint=hub),
                                   e, token, progress, log, stop, chunk_size): e
                       for e in entries if e.path in todo}
            try:
                for future in concurrent.futures.as_completed(futures):
                    future.result()
                    copied[futures[future].path] = todo[futures[future].path]
            finally:
                stop.set()
                for f in futures:
                    f.cancel()
        if todo:
            log(progress.line())
        objects, _, _ = _survey(client, bucket, prefix)
        bad = {e.path: why for e in entries if (why := mf.object_problem(e, objects.get(e.path)))}
        if bad:
            raise StagingError(f"after copying, {len(bad)} objects under {uri} are not complete: {bad}",
                               fix="run again; if it repeats, something else writes to that folder.")
        manifest = mf.Manifest(
            repo=repo_id, revision=revision, sha=sha, uri=uri,
            files=[mf.FileEntry(e.path, e.size, e.sha256, e.git_oid, objects[e.path].crc32c) for e in entries],
            copied_bytes=progress.done, seconds=round(time.monotonic() - started, 3),
            staged_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        )
        bucket.blob(prefix + mf.MARKER).upload_from_string(manifest.to_json(), content_type="application/json")
    except httpx2.HTTPError as err:  # HfHubHTTPError too: the Hub's answers and the network to it
        raise _hub_error(err, repo_id, f"copying files ({len(copied)} of {len(todo)} done)") from None
    except (exceptions.GoogleAPIError, InvalidResponse, DataCorruption, requests.RequestException) as err:
        raise _gcs_error(err, uri) from None
    except OSError as err:  # http_get's size check: the Hub's stream ended early
        raise _hub_error(err, repo_id, f"copying files ({len(copied)} of {len(todo)} done)") from None
    log(f"staged {uri}: {len(entries)} files, {human_bytes(total)}, copied {human_bytes(manifest.copied_bytes)} "
        f"in {manifest.seconds:.1f} s")
    return StageResult(manifest, copied, manifest.copied_bytes, manifest.seconds)


def staged_copy(dest: str, repo_id: str, sha: str, project: str) -> str | None:
    """The staged folder of ``repo_id`` at ``sha`` under ``dest`` when its ``_COMPLETE`` marker is there, else None."""
    from vllm_vertex.cloud.context import current

    uri = mf.staged_uri(dest, repo_id, sha)
    bucket_name, prefix = mf.split_uri(uri)
    return uri if current().storage(project).bucket(bucket_name).blob(prefix + mf.MARKER).exists() else None


def list_staged(dest: str, project: str) -> list[mf.StagedCopy]:
    """Every staged folder under ``dest`` (complete or not), sorted by repo, then by when it was staged.

    Raises:
        StagingError: the bucket is missing or refuses the listing.
    """
    from google.api_core import exceptions

    from vllm_vertex.cloud.context import current

    bucket_name, prefix = mf.split_uri(dest)
    client = current().storage(project)
    bucket = client.bucket(bucket_name)
    found: dict[tuple[str, str], mf.StagedCopy] = {}
    try:
        for blob in client.list_blobs(bucket, prefix=prefix):
            where = mf.folder_of(blob.name[len(prefix):])
            if where is None:
                continue
            copy = found.setdefault(where, mf.StagedCopy(where[0], where[1], mf.staged_uri(dest, *where)))
            if blob.name.endswith("/" + mf.MARKER):
                copy.complete = True
                try:
                    manifest = mf.Manifest.from_json(blob.download_as_bytes())
                    copy.staged_at, copy.revision = manifest.staged_at, manifest.revision
                except ValueError:
                    copy.complete = False  # not a marker this tool wrote
                continue
            copy.bytes += int(blob.size or 0)
            copy.files += 1
    except exceptions.GoogleAPICallError as err:
        raise _gcs_error(err, dest) from None
    return sorted(found.values(), key=lambda c: (c.repo, c.staged_at, c.sha))


def delete_copy(uri: str, project: str) -> int:
    """Deletes one staged folder, its marker first (so nobody takes it for complete meanwhile); returns objects deleted.

    Raises:
        StagingError: the bucket refuses.
    """
    from google.api_core import exceptions

    from vllm_vertex.cloud.context import current

    bucket_name, prefix = mf.split_uri(uri)
    client = current().storage(project)
    bucket = client.bucket(bucket_name)
    try:
        blobs = sorted(client.list_blobs(bucket, prefix=prefix), key=lambda b: not b.name.endswith(mf.MARKER))
        for blob in blobs:
            blob.delete()
    except exceptions.GoogleAPICallError as err:
        raise _gcs_error(err, uri) from None
    return len(blobs)
