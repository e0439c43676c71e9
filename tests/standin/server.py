"""``VertexStandin``: a local HTTP server the official Google clients talk to unchanged.

Two listeners on 127.0.0.1: the shared API host (``.url``) and the "dedicated DNS" of dedicated
endpoints (``.dedicated_dns``). Each request is matched against Google's discovery documents
(method id, path parameters), passes fault injection, query and body validation, then goes to
the handler registered for its method id in ``aiplatform``, ``prediction`` or ``misc``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from . import aiplatform, billing, cloudsetup, discovery, misc, pipeline_jobs, prediction, storage
from .faults import Faults
from .state import GoogleError, Raw, State, Stream

__all__ = ["Raw", "Request", "ServingBackend", "Stream", "VertexStandin"]

ROUTES = {**aiplatform.ROUTES, **prediction.ROUTES, **misc.ROUTES, **pipeline_jobs.ROUTES, **cloudsetup.ROUTES,
          **billing.ROUTES, **storage.ROUTES}


class ServingBackend(Protocol):
    """Runs one deployed model's container; ``start`` returns its base URL (Google's vLLM container contract)."""

    def start(self, deployed_model_id: str, model: dict, dedicated_resources: dict) -> str: ...

    def stop(self, deployed_model_id: str) -> None: ...


@dataclass
class Request:
    http_method: str
    path: str  # decoded, no leading slash, no query
    query: dict
    headers: dict
    body: bytes
    match: discovery.Match
    dedicated: bool  # arrived on the dedicated-DNS listener
    json: object = None
    query_pairs: list = field(default_factory=list)  # every (key, value), repeated keys too
    version: str = field(init=False)

    def __post_init__(self) -> None:
        first = self.path.split("/", 1)[0]
        self.version = "v1" if first == "ui" else first

    def param(self, name: str) -> str:
        return self.match.params[name]


class VertexStandin:
    """The stand-in. ``with VertexStandin() as s: client_options={"api_endpoint": s.url}``."""

    def __init__(self, backend: ServingBackend | None = None, *, validate_responses: bool = True,
                 health_timeout: float = 30.0, shared_timeout: float = 60.0) -> None:
        if backend is None:
            from .fake_backend import FakeBackend

            backend = FakeBackend()
        self.backend = backend
        self.state = State()
        self.faults = Faults()
        self.cloud = cloudsetup.CloudSetup()  # projects, APIs, IAM, buckets: what `doctor` reads
        self.billing = billing.Catalog()  # the Cloud Billing Catalog's services and SKUs (`plan --live-prices`)
        self.storage = storage.Objects()  # Cloud Storage objects in the buckets of ``cloud`` (staged weights)
        self.requests: list[tuple[str, str, str]] = []  # (method, path with query, body text)
        self.response_errors: list[str] = []
        self.validate_responses = validate_responses
        self.health_timeout, self.shared_timeout = health_timeout, shared_timeout
        self._servers = [ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, dedicated)) for dedicated in (False, True)]
        for server in self._servers:
            server.daemon_threads = True
        self._threads: list[threading.Thread] = []
        self._workers: list[threading.Thread] = []  # operations' background work (deploys, undeploys)

    # lifecycle
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_address[1]}"

    @property
    def dedicated_dns(self) -> str:
        """What ``Endpoint.dedicated_endpoint_dns`` holds for dedicated endpoints (host:port, no scheme)."""
        return f"127.0.0.1:{self._servers[1].server_address[1]}"

    @property
    def dedicated_url(self) -> str:
        return f"http://{self.dedicated_dns}"

    def start(self) -> VertexStandin:
        if not self._threads:
            for server in self._servers:
                t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
                t.start()
                self._threads.append(t)
        return self

    def stop(self) -> None:
        with self.state.lock:
            live = list(self.state.deployed)  # deployed and still deploying
        for dm_id in live:
            try:
                self.backend.stop(dm_id)
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> VertexStandin:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # configuration and inspection
    def set_quota(self, quota_id: str, value: int, region: str | None = None) -> None:
        """Quota limit for ``quota_id`` in ``region`` (None: the region-less default entry)."""
        with self.state.lock:
            self.state.quotas.setdefault(quota_id, {})[region] = int(value)

    def add_reservation(self, name: str) -> None:
        """Makes reservation ``name`` (projects/P/zones/Z/reservations/R) exist; from the first, others are unknown."""
        with self.state.lock:
            self.state.reservations = (self.state.reservations or set()) | {name}

    def add_secret(self, name: str, value: str | bytes) -> str:
        """Adds a version to secret ``name`` (``S`` for any project, or ``projects/P/secrets/S``)."""
        return misc.add_secret(self, name, value)

    def set_secret_state(self, name: str, version: int, state: str) -> None:
        """Marks a secret version ``DISABLED`` or ``DESTROYED`` (access then answers 400 FAILED_PRECONDITION)."""
        misc.set_secret_state(self, name, version, state)

    def resources(self) -> dict:
        """Live models, endpoints and deployed models, with their labels."""
        with self.state.lock:
            return {
                "models": {n: {"displayName": m.get("displayName"), "labels": dict(m.get("labels", {}))} for n, m in self.state.models.items()},
                "endpoints": {
                    n: {"displayName": e.get("displayName"), "labels": dict(e.get("labels", {})),
                        "deployedModels": [d["id"] for d in e.get("deployedModels", [])],
                        "dedicated": bool(e.get("dedicatedEndpointEnabled"))}
                    for n, e in self.state.endpoints.items()
                },
                "deployedModels": {i: {"endpoint": d["endpoint"], "model": d["model"], "state": d["state"]} for i, d in self.state.deployed.items()},
            }

    def operation(self, name: str) -> dict | None:
        op = self.state.operations.get(name.rsplit("/", 1)[-1])
        return op.render() if op else None

    def settle(self, timeout: float = 60.0) -> None:
        """Waits until the operations' background work is done: deploys and undeploys finished, failed or hung.

        A virtual clock calls it before it lets time pass, so that a virtual deadline passes only on an operation
        that will not end by itself (``faults.deploy_hang``), never on one the stand-in is still working on.
        """
        deadline = time.monotonic() + timeout
        for worker in list(self._workers):
            worker.join(max(0.0, deadline - time.monotonic()))
        with self.state.lock:
            self._workers = [w for w in self._workers if w.is_alive()]

    # used by handlers
    def spawn(self, target, *args) -> None:
        """Runs an operation's background work on a thread that ``settle`` waits for."""
        worker = threading.Thread(target=target, args=args, daemon=True)
        with self.state.lock:
            self._workers.append(worker)
        worker.start()

    def container_call(self, url: str, route: str, data: bytes, content_type: str = "application/json",
                       timeout: float | None = None):
        """POSTs to a deployed container; returns the open response (caller reads or streams it)."""
        req = urllib.request.Request(url.rstrip("/") + route, data=data, method="POST", headers={"Content-Type": content_type})
        try:
            return urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            raise GoogleError(e.code if e.code < 500 else 500, f"Container returned HTTP {e.code}: {text}") from e
        except TimeoutError as e:
            raise GoogleError(503, "Took too long to respond.", "UNAVAILABLE") from e
        except OSError as e:
            raise GoogleError(503, f"The model server is unavailable: {e}", "UNAVAILABLE") from e

    # dispatch
    def dispatch(self, req: Request):
        m = req.match
        self.faults.apply(m.method_id)
        try:
            discovery.check_query(m, req.query)
            ref = (m.method.get("request") or {}).get("$ref")
            if ref and ref != "GoogleApiHttpBody":
                try:
                    body = json.loads(req.body or b"{}")
                except ValueError as e:
                    if not _wraps_http_body(m.doc, ref):
                        raise discovery.ValidationError(f"Invalid JSON payload received. {e}") from e
                    body = None
                # a request with an HttpBody field (rawPredict) also takes the raw body itself (curl form)
                if body is not None and not (_wraps_http_body(m.doc, ref) and (not isinstance(body, dict) or set(body) != {"httpBody"})):
                    req.json = discovery.validate(m.doc, ref, body)
        except discovery.ValidationError as e:
            violation = {"field": e.field, "description": e.message}
            raise GoogleError(400, e.message, details=[{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}]) from e
        handler = ROUTES.get(m.method_id)
        if handler is None:
            raise GoogleError(501, f"The stand-in does not implement {m.method_id}.")
        result = handler(self, req)
        if isinstance(result, dict) and self.validate_responses:
            self._check_response(m, result)
        return result

    def _check_response(self, m: discovery.Match, result: dict) -> None:
        try:
            if m.method_id == discovery.QUOTA_ID:
                from google.cloud.cloudquotas_v1.types import QuotaInfo
                from google.protobuf import json_format

                json_format.ParseDict(result, QuotaInfo.pb(QuotaInfo()))
                return
            ref = (m.method.get("response") or {}).get("$ref")
            if ref:
                discovery.validate(m.doc, ref, result, response=True)
        except Exception as e:  # noqa: BLE001
            self.response_errors.append(f"{m.method_id}: {e}")
            raise GoogleError(500, f"stand-in produced an invalid {m.method_id} response: {e}") from e


def _wraps_http_body(doc: str, ref: str) -> bool:
    props = discovery.load(doc)["schemas"][ref].get("properties", {})
    return any(p.get("$ref") == "GoogleApiHttpBody" for p in props.values())


def _handler(standin: VertexStandin, dedicated: bool):
    class Handler(BaseHTTPRequestHandler):
        server_version = "ESF"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path).lstrip("/")
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            query = dict(pairs)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with standin.state.lock:
                text = body.decode("utf-8", "replace") if len(body) <= 1 << 20 else f"<{len(body):,} bytes>"  # uploads
                standin.requests.append((self.command, unquote(self.path), text))
            try:
                m = storage.match(self.command, parts.path) or discovery.match(self.command, path)
                if m is None:
                    raise GoogleError(404, f"The requested URL /{path} was not found on this server.")
                req = Request(self.command, path, query, dict(self.headers), body, m, dedicated, query_pairs=pairs)
                result = standin.dispatch(req)
            except GoogleError as e:
                result = Raw(json.dumps(e.body()).encode(), status=e.code)
            except Exception as e:  # noqa: BLE001 - a stand-in bug must surface as a 500, not a hang
                result = Raw(json.dumps(GoogleError(500, f"stand-in error: {e!r}").body()).encode(), status=500)
            if isinstance(result, Stream):
                self.send_response(200)
                self.send_header("Content-Type", result.content_type)
                self.end_headers()
                try:
                    for chunk in result.chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except OSError:
                    pass
                return
            if isinstance(result, dict):
                result = Raw(json.dumps(result).encode())
            self.send_response(result.status)
            self.send_header("Content-Type", result.content_type)
            self.send_header("Content-Length", str(len(result.data)))
            for key, value in result.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(result.data)

        do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve

    return Handler
