"""A local Hugging Face Hub that speaks the wire protocol ``huggingface_hub`` uses.

Routes: ``GET /api/models/{repo}`` (model info), ``GET /api/models/{repo}/auth-check``,
``HEAD``/``GET /{repo}/resolve/{revision}/{file}``. Gated repos answer 403 with
``X-Error-Code: GatedRepo`` unless the request's bearer token is allowed; unknown repos answer
401 with ``X-Error-Code: RepoNotFound`` (what the Hub does for missing or private repos).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["FakeHub", "HubRepo"]


@dataclass
class HubRepo:
    """One model repo: its files (name → bytes), gating and the tokens allowed in."""

    files: dict[str, bytes]
    gated: str | bool = False
    allowed_tokens: set[str] = field(default_factory=set)
    sha: str = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """The hub server, on 127.0.0.1 and a free port. Use as a context manager."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, authorization)
        self.invalid_tokens: set[str] = set()  # answered 401 "Invalid credentials" (expired or revoked)
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
            if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/auth-check", path):
                repo = self._repo(m[1], token)
                if repo:
                    self._send(200, b"{}", head)
            elif m := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?", path):
                repo = hub.repos.get(m[1])
                if repo is None:
                    self._error(401, "RepoNotFound", "Repository not found")
                else:
                    info = {"id": m[1], "modelId": m[1], "sha": repo.sha, "gated": repo.gated, "private": False,
                            "siblings": [{"rfilename": n} for n in sorted(repo.files)]}
                    self._send(200, json.dumps(info).encode(), head)
            elif m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
                repo = self._repo(m[1], token)
                if repo is None:
                    return
                body = repo.files.get(m[3])
                if body is None:
                    self._error(404, "EntryNotFound", "Entry not found")
                    return
                etag = hashlib.sha256(body).hexdigest()
                self._send(200, body, head, {"ETag": f'"{etag}"', "X-Repo-Commit": repo.sha})
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
