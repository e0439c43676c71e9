"""Fault injection: HTTP errors, slow answers, failing or hanging deploys, overridden model output."""

from __future__ import annotations

import fnmatch
import threading
import time
from dataclasses import dataclass

from .state import GoogleError

__all__ = ["ALIASES", "Faults"]

_AI = "aiplatform.projects.locations."
ALIASES = {
    "upload": [_AI + "models.upload"],
    "get_model": [_AI + "models.get"],
    "list_models": [_AI + "models.list"],
    "delete_model": [_AI + "models.delete"],
    "create_endpoint": [_AI + "endpoints.create"],
    "get_endpoint": [_AI + "endpoints.get"],
    "list_endpoints": [_AI + "endpoints.list"],
    "delete_endpoint": [_AI + "endpoints.delete"],
    "deploy": [_AI + "endpoints.deployModel"],
    "undeploy": [_AI + "endpoints.undeployModel"],
    "predict": [_AI + "endpoints.predict"],
    "raw_predict": [_AI + "endpoints.rawPredict"],
    "chat": [_AI + "endpoints.chat.completions"],
    "get_operation": [_AI + "operations.get", _AI + "*.operations.get"],
    "quota": ["cloudquotas.projects.locations.services.quotaInfos.get"],
    "secret": ["secretmanager.projects.secrets.versions.access", "secretmanager.projects.locations.secrets.versions.access"],
}


@dataclass
class _Fault:
    patterns: list[str]
    status: int | None
    times: int | None
    message: str
    delay: float
    details: list | None = None
    grpc_status: str | None = None
    every: int = 0
    seen: int = 0


class Faults:
    """``standin.faults``: everything here applies to the next matching calls, then wears off."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._http: list[_Fault] = []
        self._deploy: list[dict] = []  # {"kind": "error"|"hang", "message", "code"}
        self._stockouts: list[dict] = []  # {"region", "machine_type", "spot"}: None matches any
        self.output: str | None = None
        self.cut_every, self.cut_after_lines, self._streams = 0, 0, 0
        # The stage a successful deploy operation ends with (None: SUCCESSFULLY_DEPLOYED); a value the installed
        # client does not know stands for the next stage Vertex adds.
        self.deploy_stage: str | None = None

    def add(
        self, method: str, status: int | None = 500, times: int | None = 1, message: str = "", delay: float = 0.0,
        details: list | None = None, grpc_status: str | None = None, every: int = 0,
    ) -> None:
        """The next ``times`` calls of ``method`` (discovery id, glob or alias) wait ``delay`` s, then answer
        HTTP ``status`` (None: answer normally after the delay) with ``grpc_status`` (default: the one the
        HTTP code maps to, e.g. 400 FAILED_PRECONDITION instead of INVALID_ARGUMENT). ``times=None``: every call.
        ``every=k``: only every k-th matching call is hit (a rate: ``every=20`` is 5 %), the others pass."""
        patterns = ALIASES.get(method, [method])
        with self._lock:
            self._http.append(_Fault(patterns, status, times, message, delay, details, grpc_status, every))

    def cut_streams(self, every: int, after_lines: int = 4) -> None:
        """Every ``every``-th streamed chat completion stops after ``after_lines`` SSE lines (0 turns it off)."""
        with self._lock:
            self.cut_every, self.cut_after_lines, self._streams = every, after_lines, 0

    def stream_cut_at(self) -> int | None:
        """For the next streamed chat: the line count after which to cut it, or None."""
        with self._lock:
            if not self.cut_every:
                return None
            self._streams += 1
            return self.cut_after_lines if self._streams % self.cut_every == 0 else None

    def deploy_error(self, message: str, code: int = 3, times: int = 1, container_log: str = "") -> None:
        """The next deploy operation(s) finish with ``{"code": code, "message": message}``; the
        container writes ``container_log`` to Cloud Logging first (as a real failing container does)."""
        with self._lock:
            self._deploy.extend(
                {"kind": "error", "message": message, "code": code, "log": container_log} for _ in range(times)
            )

    def stockout(self, region: str | None = None, machine_type: str | None = None, spot: bool | None = None) -> None:
        """Every deploy in ``region`` on ``machine_type`` with ``spot`` (None: any) ends RESOURCE_EXHAUSTED
        ("Machine type temporarily unavailable"), as Vertex's GPU stockouts do, until ``clear``."""
        with self._lock:
            self._stockouts.append({"region": region, "machine_type": machine_type, "spot": spot})

    def stocked_out(self, region: str, machine_type: str, spot: bool) -> bool:
        """True when a ``stockout`` rule matches this deploy (used by the server)."""
        wanted = {"region": region, "machine_type": machine_type, "spot": spot}
        with self._lock:
            return any(all(v is None or v == wanted[k] for k, v in rule.items()) for rule in self._stockouts)

    def deploy_hang(self, times: int = 1) -> None:
        """The next deploy operation(s) never finish."""
        with self._lock:
            self._deploy.extend({"kind": "hang"} for _ in range(times))

    def predict_output(self, text: str | None) -> None:
        """Replace the model's generated text in predict and chat answers (None: stop replacing)."""
        self.output = text

    def clear(self) -> None:
        with self._lock:
            self._http.clear()
            self._deploy.clear()
            self._stockouts.clear()
            self.cut_every = 0
        self.deploy_stage = None
        self.output = None

    # used by the server
    def apply(self, method_id: str) -> None:
        with self._lock:
            fault = next((f for f in self._http if any(fnmatch.fnmatchcase(method_id, p) for p in f.patterns)), None)
            if fault is None:
                return
            if fault.every:
                fault.seen += 1
                if fault.seen % fault.every:
                    return
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._http.remove(fault)
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status:
            raise GoogleError(fault.status, fault.message or f"Injected fault on {method_id}", fault.grpc_status,
                              details=fault.details)

    def next_deploy(self) -> dict | None:
        with self._lock:
            return self._deploy.pop(0) if self._deploy else None
