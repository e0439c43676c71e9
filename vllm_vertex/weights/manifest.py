"""Where staged weights live in Cloud Storage, what a complete copy is, and the manifest that says so.

Layout: ``gs://BUCKET/PREFIX/<org>/<name>/<sha>/`` holds the files vLLM needs (``selection.needed``) under
their repo paths, and ``_COMPLETE``: the manifest, written last. A folder is complete when ``_COMPLETE``
exists and every file it lists is there with its size and checksum.

A file's object is complete when:

- its size is the Hub's size;
- its ``source-digest`` metadata is the Hub's digest: the LFS sha256 for weights, the git blob sha1 for
  small files. The stager sends that metadata when it opens the upload, checks the streamed bytes against it
  and aborts (never finalises) the upload when they differ, so an object carrying it holds those bytes;
- when a manifest lists the file, the object's crc32c (Cloud Storage computes it) is the manifest's: an
  object overwritten in place (another tool, a bad copy) is copied again.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DIGEST_KEY",
    "MARKER",
    "FileEntry",
    "Manifest",
    "ObjectInfo",
    "StagedCopy",
    "folder_of",
    "object_problem",
    "prune_plan",
    "split_uri",
    "staged_uri",
]

MARKER = "_COMPLETE"
DIGEST_KEY = "source-digest"


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, prefix) of ``gs://bucket/some/prefix``; the prefix ends with ``/`` unless it is empty."""
    bucket, _, path = uri.removeprefix("gs://").partition("/")
    path = path.strip("/")
    return bucket, f"{path}/" if path else ""


def staged_uri(dest: str, repo_id: str, sha: str) -> str:
    """``gs://BUCKET/PREFIX/<org>/<name>/<sha>/``: the folder of ``repo_id`` at commit ``sha`` under ``dest``."""
    bucket, prefix = split_uri(dest)
    return f"gs://{bucket}/{prefix}{repo_id.strip('/')}/{sha}/"


@dataclass(frozen=True)
class FileEntry:
    """One file to stage, as the Hub describes it at the pinned commit.

    Attributes:
        path: Path in the repo (and under the staged folder).
        size: Size in bytes.
        sha256: The LFS object id (sha256 of the content); "" for a file kept in git itself.
        git_oid: The git blob id (sha1 of ``blob <size>\\0`` + content).
        crc32c: Cloud Storage's crc32c (base64) of the staged object, once staged; "" before.
    """

    path: str
    size: int
    sha256: str = ""
    git_oid: str = ""
    crc32c: str = ""

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` for an LFS file, else ``git-sha1:<hex>``: what the streamed bytes must hash to."""
        return f"sha256:{self.sha256}" if self.sha256 else f"git-sha1:{self.git_oid}"


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing of the bucket says about one object."""

    size: int
    metadata: dict[str, str]
    crc32c: str


def object_problem(entry: FileEntry, found: ObjectInfo | None, recorded_crc32c: str = "") -> str | None:
    """Why the object staged for ``entry`` cannot be used, or None when it is complete.

    Args:
        entry: The file as the Hub describes it.
        found: The object in the bucket, or None when there is none.
        recorded_crc32c: The object's crc32c in an earlier manifest ("" when none lists it).
    """
    if found is None:
        return "missing"
    if found.size != entry.size:
        return f"size {found.size:,} bytes, the Hub's is {entry.size:,}"
    if found.metadata.get(DIGEST_KEY) != entry.digest:
        return "no matching source digest (partial or foreign copy)"
    if recorded_crc32c and found.crc32c != recorded_crc32c:
        return f"crc32c {found.crc32c} differs from the manifest's {recorded_crc32c} (changed since staged)"
    return None


@dataclass
class Manifest:
    """``_COMPLETE``: what was staged, from where, and how long it took.

    Attributes:
        repo: The Hugging Face repo id.
        revision: The revision the run asked for ("" for the default branch).
        sha: The commit it resolved to.
        uri: The staged folder (``gs://.../<sha>/``).
        files: Every staged file with its crc32c.
        copied_bytes: Bytes copied by the run that completed the folder (0 when everything was there).
        seconds: That run's staging time.
        staged_at: When it finished (RFC 3339, UTC).
    """

    repo: str
    revision: str
    sha: str
    uri: str
    files: list[FileEntry] = field(default_factory=list)
    copied_bytes: int = 0
    seconds: float = 0.0
    staged_at: str = ""

    @property
    def total_bytes(self) -> int:
        """Bytes of every staged file."""
        return sum(f.size for f in self.files)

    def crc32c(self) -> dict[str, str]:
        """Each file's recorded crc32c, by path."""
        return {f.path: f.crc32c for f in self.files if f.crc32c}

    def to_json(self) -> str:
        """The marker's text (sorted keys, one file per line)."""
        data: dict[str, Any] = dataclasses.asdict(self)
        data["total_bytes"] = self.total_bytes
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Reads a marker; raises ``ValueError`` when it is not one."""
        try:
            data = json.loads(text)
            files = [FileEntry(**f) for f in data.pop("files")]
            data.pop("total_bytes", None)
            return cls(files=files, **data)
        except (TypeError, KeyError, AttributeError, json.JSONDecodeError) as err:
            raise ValueError(f"not a staging manifest: {err}") from None


_SHA = re.compile(r"[0-9a-f]{40}")


def folder_of(path: str) -> tuple[str, str] | None:
    """(repo, sha) of an object path relative to ``stage_weights_to``: ``<org>/<name>/<sha>/...``; None otherwise."""
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if i >= 1 and _SHA.fullmatch(part):
            return "/".join(parts[:i]), part
    return None


@dataclass
class StagedCopy:
    """One staged folder as ``vllm-vertex weights list`` shows it.

    Attributes:
        repo: The repo id.
        sha: The commit.
        uri: The folder.
        complete: Whether its ``_COMPLETE`` marker is there (a folder without one is a staging cut short, or running).
        bytes: Bytes of its objects.
        files: Number of its objects (the marker left out).
        staged_at: When the marker was written ("" without one).
        revision: The revision the staging run asked for ("" without a marker or for the default branch).
    """

    repo: str
    sha: str
    uri: str
    complete: bool = False
    bytes: int = 0
    files: int = 0
    staged_at: str = ""
    revision: str = ""


def prune_plan(copies: Iterable[StagedCopy], keep: int) -> list[StagedCopy]:
    """The complete copies to delete so that each repo keeps its ``keep`` newest (by ``staged_at``).

    Folders without a marker are never chosen: one may be a staging in progress.
    """
    by_repo: dict[str, list[StagedCopy]] = {}
    for copy in copies:
        if copy.complete:
            by_repo.setdefault(copy.repo, []).append(copy)
    doomed: list[StagedCopy] = []
    for found in by_repo.values():
        doomed += sorted(found, key=lambda c: (c.staged_at, c.sha), reverse=True)[max(0, keep):]
    return sorted(doomed, key=lambda c: c.uri)
