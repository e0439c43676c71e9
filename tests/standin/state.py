"""In-memory state of the stand-in, Google-style errors and long-running operations."""

from __future__ import annotations

import datetime
import itertools
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["GRPC_CODES", "GoogleError", "Operation", "Raw", "State", "Stream", "now", "project_number"]

HTTP_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
    502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
GRPC_CODES = {
    "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "ABORTED": 10,
    "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}


class GoogleError(Exception):
    """An error answered as ``{"error": {"code", "message", "status"}}`` (what api_core parses)."""

    def __init__(self, code: int, message: str, status: str | None = None, details: list | None = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or HTTP_STATUS.get(code, "UNKNOWN")
        self.details = details or []

    def body(self) -> dict:
        err = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            err["details"] = self.details
        return {"error": err}


@dataclass
class Raw:
    data: bytes
    content_type: str = "application/json"
    status: int = 200
    headers: dict = field(default_factory=dict)  # extra response headers (Location, Range, X-Goog-Hash)


@dataclass
class Stream:
    chunks: Iterator[bytes]
    content_type: str = "text/event-stream"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def project_number(project: str) -> str:
    """The real API answers with project numbers; a stable fake number per project id."""
    return project if project.isdigit() else str(100000000000 + zlib.crc32(project.encode()) % 900000000000)


@dataclass
class Operation:
    name: str
    metadata: dict
    finished: bool = False
    response: dict | None = None
    error: dict | None = None

    def render(self, initial: bool = False) -> dict:
        """The Operation JSON; never done in the call that starts it, like the real API."""
        out = {"name": self.name, "metadata": self.metadata}
        if not self.finished or initial:
            return out  # proto3 JSON omits done=false
        out["done"] = True
        if self.error is not None:
            out["error"] = self.error
        else:
            out["response"] = self.response or {"@type": "type.googleapis.com/google.protobuf.Empty"}
        return out


@dataclass
class State:
    lock: threading.RLock = field(default_factory=threading.RLock)
    models: dict = field(default_factory=dict)  # name → Model JSON
    endpoints: dict = field(default_factory=dict)  # name → Endpoint JSON
    deployed: dict = field(default_factory=dict)  # deployed model id → {"endpoint", "model", "url"}
    operations: dict = field(default_factory=dict)  # operation id → Operation
    quotas: dict = field(default_factory=dict)  # quota id → {region or None: value}
    secret_states: dict = field(default_factory=dict)  # (project number or None, secret, version) → state
    secrets: dict = field(default_factory=dict)  # secret id → [bytes per version]; or "projects/N/secrets/S"
    logs: list = field(default_factory=list)  # Cloud Logging LogEntry JSON, oldest first
    reservations: set | None = None  # Compute Engine reservation names that exist; None: any name is taken
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def new_id(self) -> str:
        """Numeric ids of 19 digits like Vertex's."""
        return str(1234567890123456789 + 1000 * next(self._ids))

    def new_operation(self, parent: str, type_prefix: str, meta_type: str, **meta) -> Operation:
        op_id = self.new_id()
        ts = now()
        metadata = {"@type": f"{type_prefix}.{meta_type}", "genericMetadata": {"createTime": ts, "updateTime": ts}, **meta}
        op = Operation(f"{parent}/operations/{op_id}", metadata)
        with self.lock:
            self.operations[op_id] = op
        return op

    def finish(self, op: Operation, response: dict | None = None, error: dict | None = None, **meta) -> None:
        with self.lock:
            op.metadata["genericMetadata"]["updateTime"] = now()
            op.metadata.update(meta)
            op.response, op.error, op.finished = response, error, True
