"""A local Hugging Face Hub that speaks the wire protocol ``huggingface_hub`` uses.

Routes: ``GET /api/models/{repo}[/revision/{rev}]`` (model info; ``?blobs=true`` adds each file's size,
git blob id and LFS metadata), ``GET /api/models/{repo}/tree/{rev}`` (``recursive``: every file with ``oid``,
``size`` and, for weights, ``lfs: {oid (sha256), size, pointerSize}``), ``GET /api/models/{repo}/auth-check``,
``HEAD``/``GET /{repo}/resolve/{revision}/{file}`` (with ``Range: bytes=N-``).
A file's content is bytes or a ``LazyFile`` (generated while it is sent: never held whole in memory).
``faults`` answers an HTTP error for matching paths a number of times. Gated repos answer 403 with
``X-Error-Code: GatedRepo`` unless the request's bearer token is allowed; unknown repos answer
401 with ``X-Error-Code: RepoNotFound`` (what the Hub does for missing or private repos).
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["FakeHub", "HubRepo", "LazyFile"]

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


@dataclass(frozen=True)
class LazyFile:
    """``size`` bytes made of one pseudo-random 1 MiB block repeated (``seed`` picks it); generated when sent."""

    size: int
    seed: int = 0
    block: int = 1 << 20

    @functools.cached_property
    def _block(self) -> bytes:
        out, counter = bytearray(), 0
        while len(out) < self.block:
            out += hashlib.sha256(b"%d/%d" % (self.seed, counter)).digest()
            counter += 1
        return bytes(out[: self.block])

    def chunks(self, start: int = 0) -> Iterator[bytes]:
        """The content from byte ``start`` on, at most one block per chunk."""
        pos = start
        while pos < self.size:
            offset = pos % self.block
            piece = self._block[offset: offset + min(self.block - offset, self.size - pos)]
            yield piece
            pos += len(piece)

    @functools.cached_property
    def sha256(self) -> str:
        h = hashlib.sha256()
        for chunk in self.chunks():
            h.update(chunk)
        return h.hexdigest()


def _sha256(body: bytes | LazyFile) -> str:
    return body.sha256 if isinstance(body, LazyFile) else hashlib.sha256(body).hexdigest()


def _git_oid(body: bytes | LazyFile) -> str:
    if isinstance(body, LazyFile):  # an LFS file: git holds its pointer; any stable id will do
        return hashlib.sha1(body.sha256.encode()).hexdigest()  # noqa: S324
    return hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()  # noqa: S324 - git's blob id


def _size(body: bytes | LazyFile) -> int:
    return body.size if isinstance(body, LazyFile) else len(body)


def file_meta(path: str, body: bytes | LazyFile) -> dict:
    """The tree API's entry for one file: LFS metadata for weights, as the Hub stores them."""
    entry = {"type": "file", "path": path, "size": _size(body), "oid": _git_oid(body)}
    if path.endswith(LFS_SUFFIXES):
        entry["lfs"] = {"oid": _sha256(body), "size": _size(body), "pointerSize": 134}
    return entry


@dataclass
class HubRepo:
    """One model repo: its files (name → bytes), gating and the tokens allowed in."""

    files: dict[str, bytes | LazyFile]
    gated: str | bool = False
    allowed_tokens: set[str] = field(default_factory=set)
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    revisions: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit sha ("main" is ``sha``)

    def commit(self, revision: str) -> str | None:
        """The commit ``revision`` names (a branch, tag or the commit itself), or None."""
        if revision in ("main", self.sha):
            return self.sha
        return self.revisions.get(revision) or (revision if revision in self.revisions.values() else None)


class FakeHub:
    """The hub server, on 127.0.0.1 and a free port. Use as a context manager."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, authorization)
        self.invalid_tokens: set[str] = set()  # answered 401 "Invalid credentials" (expired or revoked)
        self.faults: list[list] = []  # [path glob, HTTP status, times left]: answered instead of the route
        self.sent_bytes = 0  # file bytes sent by resolve
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL to give ``HfApi(endpoint=...)``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, repo_id: str, files: dict[str, object], **kwargs) -> HubRepo:
        """Adds a repo; dict/list file contents are stored as JSON."""
        raw = {n: (json.dumps(c).encode() if isinstance(c, dict | list) else c) for n, c in files.items()}
        repo = HubRepo(files=raw, **kwargs)
        self.repos[repo_id] = repo
        return repo

    def fail(self, path_glob: str, status: int, times: int = 1) -> None:
        """Answers ``status`` to the next ``times`` requests whose path matches ``path_glob``."""
        self.faults.append([path_glob, status, times])

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._route(head=True)

        def do_GET(self) -> None:
            self._route(head=False)

        def _route(self, head: bool) -> None:
            token = (self.headers.get("authorization") or "").removeprefix("Bearer ").strip()
            hub.requests.append((self.command, self.path, "token" if token else ""))
            path = self.path.split("?", 1)[0]
            if token in hub.invalid_tokens:
                self._error(401, "", "Invalid credentials in Authorization header")
                return
            for fault in hub.faults:
                if fault[2] > 0 and fnmatch.fnmatch(path, fault[0]):
                    fault[2] -= 1
                    self._error(fault[1], "", f"injected HTTP {fault[1]}")
                    return
            if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(/.*)?", path):
                repo = hub.repos.get(m[1])
                commit = repo.commit(urllib.parse.unquote(m[2])) if repo else None
                if repo is None or commit is None:
                    self._error(404 if repo else 401, "RevisionNotFound" if repo else "RepoNotFound", "not found")
                    return
                under = urllib.parse.unquote(m[3] or "").strip("/")
                names = [n for n in sorted(repo.files) if not under or n.startswith(under + "/")]
                folders = sorted({n.rsplit("/", 1)[0] for n in names if "/" in n})
                entries = [{"type": "directory", "path": f, "oid": "0" * 40, "size": 0} for f in folders]
                entries += [file_meta(n, repo.files[n]) for n in names]
                self._send(200, json.dumps(entries).encode(), head)
                return
            if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/auth-check", path):
                repo = self._repo(m[1], token)
                if repo:
                    self._send(200, b"{}", head)
            elif m := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path):
                repo = hub.repos.get(m[1])
                commit = repo.commit(urllib.parse.unquote(m[2] or "main")) if repo else None
                if repo is None:
                    self._error(401, "RepoNotFound", "Repository not found")
                elif commit is None:
                    self._error(404, "RevisionNotFound", f"Invalid rev id: {m[2]}")
                else:
                    blobs = "blobs=true" in self.path.lower()
                    siblings = [{"rfilename": n} for n in sorted(repo.files)]
                    if blobs:
                        for sib in siblings:
                            meta = file_meta(sib["rfilename"], repo.files[sib["rfilename"]])
                            sib.update(size=meta["size"], blobId=meta["oid"])
                            if "lfs" in meta:
                                sib["lfs"] = {"sha256": meta["lfs"]["oid"], "size": meta["size"], "pointerSize": 134}
                    info = {"id": m[1], "modelId": m[1], "sha": commit, "gated": repo.gated, "private": False,
                            "siblings": siblings}
                    self._send(200, json.dumps(info).encode(), head)
            elif m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
                repo = self._repo(m[1], token)
                if repo is None:
                    return
                body = repo.files.get(urllib.parse.unquote(m[3]))
                commit = repo.commit(urllib.parse.unquote(m[2]))
                if body is None or commit is None:
                    self._error(404, "EntryNotFound", "Entry not found")
                    return
                self._file(body, head, {"ETag": f'"{_sha256(body)}"', "X-Repo-Commit": commit})
            else:
                self._error(404, "", "no such route")

        def _repo(self, repo_id: str, token: str) -> HubRepo | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(401, "RepoNotFound", "Repository not found")
                return None
            if repo.gated and token not in repo.allowed_tokens:
                self._error(403, "GatedRepo", "Access to model is restricted. You must have access to it.")
                return None
            return repo

        def _file(self, body: bytes | LazyFile, head: bool, headers: dict) -> None:
            """Sends a file, from the ``Range: bytes=N-`` offset when asked; a lazy one piece by piece."""
            size = _size(body)
            start = int(m[1]) if (m := re.fullmatch(r"bytes=(\d+)-", self.headers.get("range") or "")) else 0
            status = 206 if start else 200
            if start:
                headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size - start))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if head:
                return
            pieces = body.chunks(start) if isinstance(body, LazyFile) else iter([body[start:]])
            try:
                for piece in pieces:
                    self.wfile.write(piece)
                    hub.sent_bytes += len(piece)
            except OSError:  # the client went away
                pass

        def _error(self, status: int, code: str, message: str) -> None:
            headers = {"X-Error-Message": message}
            if code:
                headers["X-Error-Code"] = code
            self._send(status, json.dumps({"error": message}).encode(), False, headers)

        def _send(self, status: int, body: bytes, head: bool, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(body)

    return Handler
